/**
 * Stopping work: a per-task timeout, an AbortSignal, leaving a result stream early, closing a pool.
 *
 * Four ways a run ends before all its tasks are done, each on real worker
 * threads, and the error each gives: a task stuck in an endless loop hits
 * `timeout` (its worker is replaced, the pool serves on); a deadline given as
 * an AbortSignal stops a long run; a search streamed with
 * `returnAs: 'generator_unordered'` stops at the first hit, and `break`
 * cancels the tasks not yet started; `close()` ends a run still going.
 * A shared counter (a sharedArray that tasks bump with Atomics) shows how
 * many tasks really started.
 *
 * Run: npm run build && node dist/examples/abort-and-timeout.js
 */
import { createHash } from 'node:crypto';
import { AbortError, JobletError, Parallel, TimeoutError, delayed, sharedArray } from 'joblet';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const describe = (error: unknown) => {
  if (!(error instanceof Error)) return `a non-Error: ${String(error)}`;
  const index = error instanceof JobletError ? `, taskIndex ${error.taskIndex}` : '';
  const kind = error instanceof JobletError ? 'a JobletError' : 'not a JobletError';
  return `${error.name} (${kind}${index}): ${error.message}`;
};

// Tasks bump started[0] when they begin: a sharedArray is the same memory in every worker thread.
const started = sharedArray(Int32Array, 1);
const work = (counter: Int32Array, ms: number) => {
  Atomics.add(counter, 0, 1);
  const end = Date.now() + ms;
  while (Date.now() < end); // busy, like real CPU-bound work: a worker cannot be interrupted politely
  return ms;
};
const spinForever = () => {
  for (;;);
};

// 1. A per-task timeout turns a stuck task into a TimeoutError; its worker is replaced.
const timed = new Parallel({ nJobs: 2, timeout: 300 });
try {
  await timed.run([delayed(work)(started, 10), delayed(spinForever)(), delayed(work)(started, 10)]);
} catch (error) {
  if (!(error instanceof TimeoutError)) throw error;
  console.log(`1. timeout: ${describe(error)}`);
  console.log(`   timeoutMs: ${error.timeoutMs}`);
}
console.log(`   the same pool afterwards: ${JSON.stringify(await timed.run([10, 20].map((ms) => delayed(work)(started, ms))))}`);
await timed.close();

// 2. A deadline for the whole run: 40 tasks of 50 ms on 2 workers need about 1 s; the signal allows 400 ms.
// run() rejects with the signal's own reason (here a DOMException named TimeoutError, not joblet's).
const deadline = new Parallel({ nJobs: 2, signal: AbortSignal.timeout(400) });
started[0] = 0;
const begun = performance.now();
try {
  await deadline.run(Array.from({ length: 40 }, () => delayed(work)(started, 50)));
} catch (error) {
  console.log(`\n2. AbortSignal.timeout(400): after ${(performance.now() - begun).toFixed(0)} ms, ${describe(error)}`);
}
const atAbort = Atomics.load(started, 0);
await sleep(150);
console.log(`   tasks started: ${atAbort} of 40; 150 ms later still ${Atomics.load(started, 0)}: queued tasks never start`);
await deadline.close();

// 3. First hit wins: search 60 ranges of nonces for a SHA-256 that starts with '0000', in
// completion order, and leave the loop at the first hit. Leaving cancels what is pending.
const search = (counter: Int32Array, from: number, to: number) => {
  Atomics.add(counter, 0, 1);
  for (let nonce = from; nonce < to; nonce++) {
    if (createHash('sha256').update(`search-${nonce}`).digest('hex').startsWith('0000')) return nonce;
  }
  return undefined;
};
const RANGES = 60;
const SIZE = 5_000;
const searcher = new Parallel({ nJobs: 2, returnAs: 'generator_unordered' });
started[0] = 0;
let found: number | undefined;
let seen = 0;
for await (const nonce of searcher.run(Array.from({ length: RANGES }, (_, r) => delayed(search)(started, r * SIZE, (r + 1) * SIZE)))) {
  seen++;
  if (nonce !== undefined) {
    found = nonce;
    break;
  }
}
await sleep(100);
console.log(`\n3. generator_unordered + break: nonce ${found} (sha256 ${createHash('sha256').update(`search-${found}`).digest('hex').slice(0, 12)}…)`);
console.log(`   after ${seen} results; tasks started: ${Atomics.load(started, 0)} of ${RANGES} (no error: leaving the loop is how a consumer says "enough")`);
await searcher.close();

// 4. close() while a run is still going: the run rejects with AbortError.
const closing = new Parallel({ nJobs: 2 });
// Its outcome is taken at once: the rejection happens inside close(), before `await pending` would run.
const pending = closing.run(Array.from({ length: 20 }, () => delayed(work)(started, 100))).then(
  () => undefined,
  (error: unknown) => error,
);
await sleep(150);
await closing.close();
const error = await pending;
if (!(error instanceof AbortError)) throw new Error(`expected an AbortError, got ${String(error)}`);
console.log(`\n4. close() during a run: ${describe(error)}`);
