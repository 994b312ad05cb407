/**
 * Watching a job: onProgress, joblib's verbose lines, the progress bar, and the profile.
 *
 * - `progress: true` draws a bar on stderr when stderr is a terminal (run this in one to see it);
 *   `{ force: true }` draws plain lines anywhere else, as below.
 * - `verbose: n` prints joblib's lines on stderr: `[Parallel(nJobs=2)]: Done 40 of 200 | elapsed: ...`.
 * - `onProgress` hands you `{ done, total, failed, elapsedMs, etaMs }` after each batch.
 * - `enableProfiling: true` records where the time goes; `parallel.stats()` returns it.
 *
 * Run: npm run build && node dist/examples/progress.js
 */
import { Parallel, delayed, type Progress } from 'joblet';

/** About 3 ms of work: a Monte Carlo estimate of pi. */
const estimatePi = (seed: number) => {
  let x = seed * 2654435761 % 2 ** 32;
  let inside = 0;
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) % 2 ** 32;
    const a = x / 2 ** 32;
    x = (x * 1664525 + 1013904223) % 2 ** 32;
    const b = x / 2 ** 32;
    if (a * a + b * b < 1) inside++;
  }
  return (4 * inside) / n;
};

// 1. onProgress, verbose lines and the bar (forced: this may not be a terminal), with a profile.
const reported: Progress[] = [];
const parallel = new Parallel({
  nJobs: 2,
  verbose: 5,
  progress: { force: true },
  enableProfiling: true,
  onProgress: (p) => reported.push(p),
});
try {
  const estimates = await parallel.run(Array.from({ length: 200 }, (_, i) => delayed(estimatePi)(i + 1)));
  const mean = estimates.reduce((a, b) => a + b, 0) / estimates.length;
  const first = reported[0]!;
  const last = reported[reported.length - 1]!;
  console.log(`pi is about ${mean.toFixed(4)}`);
  console.log(`onProgress: ${first.done} of ${first.total} done at the start, then ${reported.length - 1} updates`);
  console.log(`onProgress: ${last.done} of ${last.total} done, ${last.failed} failed, in ${(last.elapsedMs / 1000).toFixed(2)} s`);

  // 2. The profile: where the time went, per phase, per worker.
  const stats = parallel.stats();
  console.log(`profile: ${stats.tasks} tasks in ${stats.batches} batches on ${stats.workers.length} workers, ${(stats.wallMs / 1000).toFixed(2)} s`);
  for (const [phase, s] of Object.entries(stats.phases)) {
    console.log(`  ${phase.padEnd(12)} p50 ${s.p50Ms.toFixed(3)} ms  p99 ${s.p99Ms.toFixed(3)} ms  total ${s.totalMs.toFixed(1)} ms (${s.count} samples)`);
  }
  console.log(`  bytes sent ${stats.bytes.sent.toLocaleString('en-US')}, received ${stats.bytes.received.toLocaleString('en-US')}${stats.bytes.estimated ? ' (estimated: plain data is cloned as it is)' : ''}`);
  for (const w of stats.workers) console.log(`  worker ${w.worker}: ${w.tasks} tasks, busy ${Math.round(w.utilization * 100)}% of the run`);
} finally {
  await parallel.close();
}

// 3. An input of unknown length: the count goes on without a total until the input runs out.
const streaming = new Parallel({ nJobs: 2, returnAs: 'generator_unordered', onProgress: (p) => reported.push(p) });
function* seeds() {
  for (let i = 0; i < 150; i++) yield delayed(estimatePi)(1000 + i);
}
reported.length = 0;
try {
  let n = 0;
  for await (const _ of streaming.run(seeds())) n++;
  console.log(`generator of unknown length: ${n} done, total known at the end: ${reported[reported.length - 1]!.total}`);
} finally {
  await streaming.close();
}
