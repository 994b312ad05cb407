/**
 * Worker recycling against a leak (issue 16, item 2): 100,000 tasks that each keep about 2 KB
 * in their worker's global for good, on two worker threads, without recycling, with
 * `maxWorkerMemory: '64M'`, and with `maxTasksPerWorker: 10_000`. Prints the peak resident memory of
 * the whole process (worker threads included, sampled every 20 ms) and the wall time of each run.
 * Each case runs in a process of its own, so that none starts with memory another left behind.
 * `node dist/bench/recycle.js [tasks]`.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed, type ParallelOptions } from '../src/index.js';
import { RssByPhase, mib } from './lib/rss.js';

const TASKS = Number(process.argv[2] ?? 100_000);
const CASE = process.argv[3];

/** Keeps 250 doubles (2 KB) in the worker's global, as a task leaking into a module-level cache would. */
const leak = (i: number) => {
  const g = globalThis as { __benchLeak?: number[][] };
  (g.__benchLeak ??= []).push(new Array(250).fill(i + 0.5));
  return i;
};

const cases: [string, ParallelOptions<'array', false>][] = [
  ['no recycling', {}],
  ["maxWorkerMemory: '64M'", { maxWorkerMemory: '64M' }],
  ['maxTasksPerWorker: 10000', { maxTasksPerWorker: 10_000 }],
];

if (CASE === undefined) {
  console.log(`${TASKS} tasks leaking 2 KB each, 2 worker threads`);
  for (let k = 0; k < cases.length; k++) {
    process.stdout.write(execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(TASKS), String(k)]));
  }
} else {
  await runCase(...cases[Number(CASE)]!);
}

async function runCase(name: string, options: ParallelOptions<'array', false>): Promise<void> {
  const rss = new RssByPhase();
  const parallel = new Parallel({ nJobs: 2, ...options });
  try {
    rss.phase = name;
    rss.sample();
    const started = performance.now();
    const results = await parallel.run(Array.from({ length: TASKS }, (_, i) => delayed(leak)(i)));
    const ms = performance.now() - started;
    rss.sample();
    rss.phase = undefined;
    if (results.length !== TASKS || results[TASKS - 1] !== TASKS - 1) throw new Error(`${name}: wrong results`);
    const seen = rss.get(name)!;
    console.log(`${name.padEnd(28)} peak RSS ${mib(seen.peak).toFixed(0).padStart(5)} MiB (from ${mib(seen.start).toFixed(0)})   ${(ms / 1000).toFixed(1)} s`);
  } finally {
    await parallel.close();
    rss.stop();
  }
}
