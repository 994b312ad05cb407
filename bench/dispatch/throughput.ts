/**
 * 1. Throughput: 100,000 tasks `x + 1`. joblet
 *    `parallel.run(items.map((x) => delayed(inc)(x)))` (batchSize 'auto',
 *    creating the tasks included); piscina and tinypool `pool.run(x)` per
 *    task, workerpool `pool.exec('inc', [x])` per task (their idiomatic use,
 *    the workers in bench/lib/workers/); bare worker_threads with one
 *    message per task, and with 1,000 tasks per message: the baseline.
 *    Tasks/s, the ratio to the baseline, and joblet's ratio to piscina.
 *    Targets: joblet at least 1,000,000 tasks/s and at least 20 times piscina.
 *
 * A benny suite (every run's results checked, so a contender that loses
 * tasks is not timed); its targets are judged on the means and on the
 * fastest samples: met when both pass, MISSED when both fail, borderline
 * otherwise. Saves bench/results/dispatch-throughput.json and its chart.
 *
 * Alone: npm run build && node dist/bench/dispatch/throughput.js
 */
import b from 'benny';
import { addAsync, progressIn, saves, type Summary } from '../lib/benny.js';
import { isEntry } from '../lib/paths.js';
import { markdownTable, notes, thousands, verdict } from '../lib/report.js';
import type { RssByPhase } from '../lib/rss.js';
import { delayed } from 'joblet';
import { JOBLET, N_JOBS, PISCINA, RAW_BATCH, TINYPOOL, WORKERPOOL, check, inc, runAlone, type Pools } from './pools.js';

export const TASKS = 100_000;

/** Targets (issue 5). */
const TASKS_PER_SECOND_TARGET = 1_000_000;
const OVER_PISCINA_TARGET = 20;
/** Target (issue 17): warm, at least this fraction of the baseline's tasks/s. */
const OF_BASELINE_TARGET = 0.5;
const JOBLET_MAP = 'joblet map';

// A run of 100,000 tasks takes about 20 ms (baseline) to 7 s (workerpool): the slow peers get 2
// samples, enough for ratios of 20 times and more; the fast cases a few seconds each.
const FAST_OPTIONS = { minSamples: 5, maxTime: 2 };
const MEDIUM_OPTIONS = { minSamples: 3, maxTime: 0 };
const SLOW_OPTIONS = { minSamples: 2, maxTime: 0 };

const items = Array.from({ length: TASKS }, (_, i) => i);

interface Contender {
  name: string;
  /** How it is called, for the notes under the table. */
  given: string;
  options: object;
  /** All the tasks once: their results in submission order. */
  run(): Promise<ArrayLike<number>>;
}

const BASELINE = `worker_threads, ${RAW_BATCH.toLocaleString('en-US')} tasks per message`;

function contendersOf({ raw, joblet, piscina, tinypool, wpool }: Pools): Contender[] {
  return [
    {
      name: BASELINE,
      given: `${N_JOBS} bare workers, an array of ${RAW_BATCH.toLocaleString('en-US')} numbers per postMessage, answered with an array (bench/lib/workers/raw.ts)`,
      options: FAST_OPTIONS,
      run: () => raw.batched(items, RAW_BATCH),
    },
    {
      name: 'worker_threads, one message per task',
      given: `the same workers, one postMessage of a number per task, all posted at once`,
      options: MEDIUM_OPTIONS,
      run: () => raw.perTask(items),
    },
    {
      name: JOBLET,
      given: "`new Parallel({ nJobs: 2 }).run(items.map((x) => delayed(inc)(x)))`, batchSize 'auto', serializer 'auto' (the defaults), creating the tasks included",
      options: FAST_OPTIONS,
      run: () => joblet.run(items.map((x) => delayed(inc)(x))),
    },
    {
      name: JOBLET_MAP,
      given: '`parallel.map(inc, items)` on the same Parallel: no task object per item (what p-map and piscina users write)',
      options: FAST_OPTIONS,
      run: () => joblet.map(inc, items),
    },
    {
      name: PISCINA,
      given: '`Promise.all(items.map((x) => pool.run(x)))`, 2 threads, atomics on (its default), the worker bench/lib/workers/inc.ts',
      options: SLOW_OPTIONS,
      run: () => Promise.all(items.map((x) => piscina.run(x) as Promise<number>)),
    },
    {
      name: TINYPOOL,
      given: '`Promise.all(items.map((x) => pool.run(x)))`, 2 threads, the same worker',
      options: SLOW_OPTIONS,
      run: () => Promise.all(items.map((x) => tinypool.run(x) as Promise<number>)),
    },
    {
      name: WORKERPOOL,
      given: "`Promise.all(items.map((x) => pool.exec('inc', [x])))`, 2 thread workers, bench/lib/workers/workerpool.ts",
      options: SLOW_OPTIONS,
      run: () => Promise.all(items.map((x) => wpool.exec('inc', [x]) as Promise<number>)),
    },
  ];
}

interface Row {
  name: string;
  /** Mean time of one run, in ms. */
  msPerRun: number;
  /** Relative margin of error, in percent (95% confidence). */
  rme: number;
  /** The fastest sample, in ms. */
  fastestMs: number;
  samples: number;
  /** Baseline's mean time over this case's mean time: above 1 is faster than the baseline. */
  speed: number;
  /** The same on the fastest samples. */
  fastestSpeed: number;
}

function rowsOf(summary: Summary, baseline: string): Row[] {
  const base = summary.results.find((r) => r.name === baseline);
  if (!base) throw new Error(`the baseline '${baseline}' has no result`);
  return summary.results.map((r) => ({
    name: r.name,
    msPerRun: r.details.mean * 1000,
    rme: r.details.relativeMarginOfError,
    fastestMs: r.details.min * 1000,
    samples: r.samples,
    speed: base.details.mean / r.details.mean,
    fastestSpeed: base.details.min / r.details.min,
  }));
}

export interface Throughput {
  rows: Row[];
  contenders: Contender[];
}

/** `save`: benny's JSON and its chart (false when the file runs alone, so bench/results keeps full runs). */
export async function measureThroughput(rss: RssByPhase, pools: Pools, save = true): Promise<Throughput> {
  const title = `throughput: ${TASKS.toLocaleString('en-US')} tasks x + 1, ${N_JOBS} worker threads`;
  console.log(`\n${title}`);
  const contenders = contendersOf(pools);
  const added = contenders.map(({ name, options, run }) =>
    addAsync(
      name,
      async () => {
        rss.phase = `throughput: ${name}`;
        rss.sample();
        check(name, await run(), (i) => i + 1, TASKS);
      },
      pools.fail,
      options,
    ),
  );
  const summary = await b.suite(
    title,
    b.configure({ minDisplayPrecision: 2 }),
    ...added,
    progressIn('tasks/s', (s) => TASKS / s, 0),
    ...(save ? saves('dispatch-throughput') : []),
  );
  return { rows: rowsOf(summary, BASELINE), contenders };
}

const tasksPerSecond = (r: Row) => TASKS / (r.msPerRun / 1000);
const fastestTasksPerSecond = (r: Row) => TASKS / (r.fastestMs / 1000);
const rowOf = (rows: Row[], name: string) => rows.find((r) => r.name === name)!;

export function throughputSections({ rows, contenders }: Throughput, rss: RssByPhase): string[] {
  const jobletRow = rowOf(rows, JOBLET);
  return [
    `### Throughput: ${TASKS.toLocaleString('en-US')} tasks \`x + 1\`, ${N_JOBS} worker threads each, warm`,
    markdownTable(
      ['contender', 'tasks/s', '±', 'fastest sample, tasks/s', 'samples', 'ratio to baseline', "joblet's tasks/s over its", 'RSS (MiB): start → peak'],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      rows.map((r) => [
        r.name === BASELINE ? `${r.name} (baseline)` : r.name,
        thousands(tasksPerSecond(r)),
        `${r.rme.toFixed(1)}%`,
        thousands(fastestTasksPerSecond(r)),
        String(r.samples),
        `${r.speed.toFixed(3)}×`,
        r.name === JOBLET ? '' : `${(r.msPerRun / jobletRow.msPerRun).toFixed(r.msPerRun > jobletRow.msPerRun ? 1 : 3)}×`,
        rss.cell(`throughput: ${r.name}`),
      ]),
    ),
    notes(contenders),
  ];
}

/** The two targets: their lines under 'Targets', and their verdicts for dispatch.json. */
export function throughputTargets({ rows }: Throughput): { lines: string[]; tasksPerSecond: string; overPiscina: string } {
  const jobletRow = rowOf(rows, JOBLET);
  const piscinaRow = rowOf(rows, PISCINA);
  const throughputVerdict = verdict(tasksPerSecond(jobletRow) >= TASKS_PER_SECOND_TARGET, fastestTasksPerSecond(jobletRow) >= TASKS_PER_SECOND_TARGET);
  const overPiscina = piscinaRow.msPerRun / jobletRow.msPerRun;
  const overPiscinaFastest = piscinaRow.fastestMs / jobletRow.fastestMs;
  const overPiscinaVerdict = verdict(overPiscina >= OVER_PISCINA_TARGET, overPiscinaFastest >= OVER_PISCINA_TARGET);
  // Issue 17's target, for both ways of calling: run() pays for the caller's task objects (creating 100,000 takes longer than the baseline's whole run).
  const ofBaseline = [JOBLET, JOBLET_MAP].map((name) => {
    const row = rowOf(rows, name);
    return `${name} ${row.speed.toFixed(3)}× (means), ${row.fastestSpeed.toFixed(3)}× (fastest samples): **${verdict(row.speed >= OF_BASELINE_TARGET, row.fastestSpeed >= OF_BASELINE_TARGET)}**`;
  });
  return {
    lines: [
      `- throughput, warm, at least ${OF_BASELINE_TARGET}× the baseline: ${ofBaseline.join('; ')}`,
      `- throughput, joblet at least ${thousands(TASKS_PER_SECOND_TARGET)} tasks/s: **${throughputVerdict}**; ` +
        `${thousands(tasksPerSecond(jobletRow))} tasks/s (mean), ${thousands(fastestTasksPerSecond(jobletRow))} (fastest sample); ` +
        `${jobletRow.speed.toFixed(3)}× the baseline's ${thousands(tasksPerSecond(rowOf(rows, BASELINE)))}`,
      `- throughput, joblet at least ${OVER_PISCINA_TARGET}× piscina: **${overPiscinaVerdict}**; ${overPiscina.toFixed(1)}× (means), ${overPiscinaFastest.toFixed(1)}× (fastest samples)`,
    ],
    tasksPerSecond: throughputVerdict,
    overPiscina: overPiscinaVerdict,
  };
}

/** The rows as dispatch.json holds them. */
export const throughputJson = ({ rows }: Throughput) =>
  rows.map((r) => ({ ...r, tasksPerSecond: tasksPerSecond(r), fastestTasksPerSecond: fastestTasksPerSecond(r) }));

if (isEntry(import.meta.url)) {
  await runAlone(
    (rss, pools) => measureThroughput(rss, pools!, false),
    (result, rss) => ({ sections: throughputSections(result, rss), targets: throughputTargets(result).lines }),
  );
}
