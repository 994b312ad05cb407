/** What the benchmarks share: where results go, benny's saves, progress lines, async cases, tables. */
import { fileURLToPath } from 'node:url';
import b from 'benny';

export const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

export const markdownTable = (header: string[], align: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((cells) => `| ${cells.join(' | ')} |`)].join('\n');

/** One plain line per finished case (benny's default redraws the screen, which a log file keeps as noise). */
export const progress = (unit: 'ops/s' | 'ms per op' | 'ms per run') =>
  b.cycle((result) => {
    const figure = unit === 'ops/s' ? (1 / result.details.mean).toFixed(2) : (result.details.mean * 1000).toFixed(1);
    console.log(`  ${result.name}: ${figure} ${unit} ±${result.margin.toFixed(1)}% (${result.samples} samples)`);
  });

/** benny's own saves: every sample as JSON, and a bar chart of ops/s. */
export const saves = (file: string) => [
  b.save({ file, folder: RESULTS, format: 'json', details: true }),
  b.save({ file, folder: RESULTS, format: 'chart.html' }),
];

interface Deferred {
  resolve(): void;
}
interface BenchmarkSuite {
  add(name: string, fn: (deferred: Deferred) => void, options: object): BenchmarkSuite;
}

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
