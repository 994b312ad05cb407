/**
 * The contenders of the dispatch benchmark, each with N_JOBS worker threads,
 * opened once and warm for the whole run: throughput and CPU-bound use them,
 * and latency (which opens its own each round) runs while they sit idle, as
 * it always has. Also what every measurement shares: the task, the names,
 * the check of results, and how a measurement file runs alone.
 */
import { Piscina } from 'piscina';
import Tinypool from 'tinypool';
import workerpool from 'workerpool';
import { Parallel, delayed } from 'joblet';
import { WORKERS, version } from '../lib/paths.js';
import { RawPool } from '../lib/raw-pool.js';
import { cpusLine, loadAverages } from '../lib/report.js';
import { RssByPhase } from '../lib/rss.js';

export const N_JOBS = 2;
export const RAW_BATCH = 1_000;
export const inc = (x: number) => x + 1;

export const versions = { piscina: version('piscina'), tinypool: version('tinypool'), workerpool: version('workerpool') };
export const JOBLET = 'joblet';
export const PISCINA = `piscina ${versions.piscina}`;
export const TINYPOOL = `tinypool ${versions.tinypool}`;
export const WORKERPOOL = `workerpool ${versions.workerpool}`;

export type Pools = ReturnType<typeof openPools>;

export function openPools() {
  const raw = new RawPool(N_JOBS);
  const joblet = new Parallel({ nJobs: N_JOBS });
  // For the latency table's diagnosis only: 'structured' sends the task function as its source, without capturing its variables.
  const jobletStructured = new Parallel({ nJobs: N_JOBS, serializer: 'structured' });
  const piscina = new Piscina<number | { iterations: number; seed: number }, number>({
    filename: new URL('inc.js', WORKERS).href,
    minThreads: N_JOBS,
    maxThreads: N_JOBS,
  });
  const tinypool = new Tinypool({ filename: new URL('inc.js', WORKERS).href, minThreads: N_JOBS, maxThreads: N_JOBS });
  const wpool = workerpool.pool(new URL('workerpool.js', WORKERS).pathname, { minWorkers: N_JOBS, maxWorkers: N_JOBS, workerType: 'thread' });
  const close = async () => {
    await Promise.allSettled([raw.close(), joblet.close(), jobletStructured.close(), piscina.destroy(), tinypool.destroy(), wpool.terminate()]);
  };
  const fail = (error: unknown) => {
    console.error('\nThe dispatch benchmark failed:', error);
    void close().finally(() => process.exit(1));
  };
  return { raw, joblet, jobletStructured, piscina, tinypool, wpool, close, fail };
}

/** Workers started, the task function compiled there, and each contender's paths run hot before any timing. */
export async function warmPools({ raw, joblet, jobletStructured, piscina, tinypool, wpool }: Pools): Promise<void> {
  const warmItems = Array.from({ length: 10_000 }, (_, i) => i);
  await raw.batched(warmItems, RAW_BATCH);
  await raw.perTask(warmItems);
  for (let k = 0; k < 3; k++) await joblet.run(warmItems.map((x) => delayed(inc)(x)));
  await jobletStructured.run(warmItems.map((x) => delayed(inc)(x)));
  await Promise.all(warmItems.map((x) => piscina.run(x)));
  await Promise.all(warmItems.map((x) => tinypool.run(x)));
  await Promise.all(warmItems.map((x) => wpool.exec('inc', [x])));
}

/** A wrong or missing result ends the bench: a contender that loses tasks must not be timed. */
export function check(name: string, results: ArrayLike<number>, expected: (i: number) => number, count: number): void {
  if (results.length !== count) throw new Error(`'${name}': ${results.length} results for ${count} tasks`);
  for (let i = 0; i < count; i++) {
    if (results[i] !== expected(i)) throw new Error(`'${name}': task ${i} returned ${String(results[i])}, expected ${expected(i)}`);
  }
}

export const machineLine = (loadAtStart: string) => `node ${process.version}, ${cpusLine()}, load ${loadAtStart}`;

/**
 * One measurement on its own (`node dist/bench/dispatch/latency.js`): the
 * machine line, the pools opened and warmed as in the full run (unless
 * `withPools` is false), the measurement, then its tables and its target
 * printed. Nothing is written to bench/results: those hold full runs.
 */
export async function runAlone<T>(
  measure: (rss: RssByPhase, pools: Pools | undefined) => Promise<T>,
  report: (result: T, rss: RssByPhase) => { sections: string[]; targets: string[] },
  withPools = true,
): Promise<void> {
  console.log(machineLine(loadAverages()));
  const rss = new RssByPhase();
  const pools = withPools ? openPools() : undefined;
  let result: T;
  try {
    if (pools) {
      rss.phase = 'start';
      await warmPools(pools);
    }
    result = await measure(rss, pools);
  } finally {
    rss.phase = undefined;
    await pools?.close();
    rss.stop();
  }
  const { sections, targets } = report(result, rss);
  console.log(`\n${[...sections, ['Targets (issue 5):', ...targets].join('\n')].join('\n\n')}`);
}
