import { performance } from 'node:perf_hooks';

/**
 * Median wall time of `repeat` calls, in milliseconds. The median rather than
 * the mean: the first call of a codec pays for lazy loading and compilation,
 * and one garbage collection should not decide the figure.
 */
export function medianMs(run: () => unknown, repeat: number): number {
  const samples: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const middle = samples.length >> 1;
  const median = samples.length % 2 ? samples[middle]! : (samples[middle - 1]! + samples[middle]!) / 2;
  // Microsecond resolution: finer digits are noise.
  return Math.round(median * 1000) / 1000;
}
