/**
 * Shared arrays: workers write their part of one output array in place (grain's SharedMemoryArray).
 *
 * A signal of 1,000,000 samples is smoothed by a moving average, cut into
 * slices, one task per slice. Input and output are `sharedArray`s: typed
 * arrays on a SharedArrayBuffer. On worker threads every task sees the same
 * memory, so nothing is copied in, each task writes its own slice of the
 * output, and the results that travel back are a few numbers. Child
 * processes cannot map this process's memory: they work on a copy, and the
 * example shows what to do there instead.
 *
 * Run: npm run build && node dist/examples/shared-array.js
 */
import { Parallel, delayed, sharedArray } from 'joblet';

const N = 1_000_000;
const RADIUS = 50; // the average of 101 samples centred on each one
const SLICES = 8;

// Shared arrays go to tasks as arguments (a closure may not capture one: it would be copied).
const input = sharedArray(Float64Array, N);
for (let i = 0; i < N; i++) input[i] = Math.sin(i / 5_000) + 0.3 * Math.sin(i * 7.1); // a slow wave plus fast noise

/**
 * Smooths signal[start, end) into output, from output[at] on (by default at the same place), and
 * returns what it wrote, in a few numbers. Slices do not overlap, so no Atomics are needed.
 */
const smoothSlice = (signal: Float64Array, output: Float64Array, start: number, end: number, radius: number, at = start) => {
  let sum = 0;
  let count = 0;
  for (let j = Math.max(0, start - radius); j <= Math.min(signal.length - 1, start + radius); j++, count++) sum += signal[j]!;
  for (let i = start; i < end; i++) {
    output[at + i - start] = sum / count;
    // Slide the window by one: drop its first sample, take the next one.
    if (i - radius >= 0) (sum -= signal[i - radius]!), count--;
    if (i + radius + 1 < signal.length) (sum += signal[i + radius + 1]!), count++;
  }
  return { start, end, shared: output.buffer instanceof SharedArrayBuffer };
};
const sliceOf = (s: number) => [Math.floor((s * N) / SLICES), Math.floor(((s + 1) * N) / SLICES)] as const;

// The same computation in the main thread, to check the workers' writes.
const expected = new Float64Array(N);
smoothSlice(input, expected, 0, N, RADIUS);
const sameAsExpected = (array: Float64Array) => array.every((x, i) => Math.abs(x - expected[i]!) < 1e-9);

const threads = new Parallel({ nJobs: 2 });
const processes = new Parallel({ nJobs: 2, backend: 'processes' });
try {
  const output = sharedArray(Float64Array, N);
  const start = performance.now();
  const reports = await threads.run(Array.from({ length: SLICES }, (_, s) => delayed(smoothSlice)(input, output, ...sliceOf(s), RADIUS)));
  const ms = performance.now() - start;
  console.log(`threads: ${SLICES} tasks wrote ${(output.byteLength / 2 ** 20).toFixed(1)} MiB in place in ${ms.toFixed(0)} ms (starting the workers included)`);
  console.log(`  each task saw shared memory: ${reports.every((r) => r.shared)}; what came back: ${JSON.stringify(reports.slice(0, 2))}, ...`);
  console.log(`  the main thread sees every write: ${sameAsExpected(output)} (output[500000] = ${output[500_000]!.toFixed(6)})`);

  // On processes each worker gets a copy of both arrays: its writes stay in the child.
  const untouched = sharedArray(Float64Array, N);
  await processes.run(Array.from({ length: SLICES }, (_, s) => delayed(smoothSlice)(input, untouched, ...sliceOf(s), RADIUS)));
  console.log(`\nprocesses, same tasks: the output here is still all zeros: ${untouched.every((x) => x === 0)} (each child wrote to its own copy)`);

  // There, return the slice and place it: the data crosses once, back.
  const smoothAndReturn = (signal: Float64Array, start: number, end: number, radius: number) => {
    const part = new Float64Array(end - start);
    smoothSlice(signal, part, start, end, radius, 0);
    return part;
  };
  const parts = await processes.run(Array.from({ length: SLICES }, (_, s) => delayed(smoothAndReturn)(input, ...sliceOf(s), RADIUS)));
  const assembled = new Float64Array(N);
  parts.forEach((part, s) => assembled.set(part, sliceOf(s)[0]));
  console.log(`processes, each task returning its slice: assembled output matches: ${sameAsExpected(assembled)}`);
} finally {
  await Promise.all([threads.close(), processes.close()]);
}
