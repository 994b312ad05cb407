/** What the benny suites share: progress lines, async cases, and the saves (benny's JSON, then the chart drawn from it). */
import b from 'benny';
import { writeChart } from './chart.js';
import { RESULTS } from './paths.js';

export type Summary = Awaited<ReturnType<typeof b.suite>>;

/** One plain line per finished case (benny's default redraws the screen, which a log file keeps as noise). */
export const progress = (unit: 'ops/s' | 'ms per op' | 'ms per run') =>
  b.cycle((result) => {
    const figure = unit === 'ops/s' ? (1 / result.details.mean).toFixed(2) : (result.details.mean * 1000).toFixed(1);
    console.log(`  ${result.name}: ${figure} ${unit} ±${result.margin.toFixed(1)}% (${result.samples} samples)`);
  });

/** The same in a unit of the bench's own: `perRun` turns a run's mean in seconds into it. */
export const progressIn = (unit: string, perRun: (seconds: number) => number, digits: number) =>
  b.cycle((result) => {
    const figure = perRun(result.details.mean).toLocaleString('en-US', { maximumFractionDigits: digits });
    console.log(`  ${result.name}: ${figure} ${unit} ±${result.margin.toFixed(1)}% (${result.samples} samples)`);
  });

interface Deferred {
  resolve(): void;
}
interface BenchmarkSuite {
  add(name: string, fn: (deferred: Deferred) => void, options: object): BenchmarkSuite;
  on(event: 'complete', listener: () => void): BenchmarkSuite;
}

/**
 * benny's save of every sample as JSON, then the chart drawn from that file
 * (benny calls 'complete' listeners in order, so the JSON is there).
 */
export const saves = (file: string) => [
  b.save({ file, folder: RESULTS, format: 'json', details: true }),
  async () => (suite: BenchmarkSuite) =>
    suite.on('complete', () => {
      writeChart(file);
      console.log(`\nSaved to: ${RESULTS}${file}.chart.html`);
    }),
];

/**
 * An async case, added to benchmark.js directly, with the suite's sample
 * options or its own. benny's `add` calls a case two or three times while
 * preparing it, some calls not awaited, and prepares all cases at once:
 * pools would then run side by side on 2 cores just before the first sample.
 * A failure in a deferred case would hang benchmark.js, so it ends the bench.
 */
export function addAsync(name: string, run: () => Promise<void>, fail: (error: unknown) => void, options?: object) {
  return async (config: { cases?: object }) => (suite: BenchmarkSuite) =>
    suite.add(name, (deferred) => void run().then(() => deferred.resolve(), fail), { ...(options ?? config.cases), defer: true });
}
