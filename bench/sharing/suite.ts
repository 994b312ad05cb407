/**
 * What the sharing suites share: a case on its own warm pool, the benny
 * suite that times a list of cases (every result checked), the rows and
 * their table, and the RSS sampled while each case ran.
 */
import b from 'benny';
import { Parallel, delayed } from 'joblet';
import { addAsync, progress, saves, type Summary } from '../lib/benny.js';
import { markdownTable, notes } from '../lib/report.js';
import { RssByPhase } from '../lib/rss.js';

export const N_JOBS = 2;

// A copied list run takes 3 to 6 s, a copied 80 MB run 10 to 20 s: 3 and 2 runs keep the whole bench near a minute.
export const LIST_COPIED_OPTIONS = { minSamples: 3, maxTime: 0 };
export const SLOW_OPTIONS = { minSamples: 2, maxTime: 0 };
export const FAST_OPTIONS = { minSamples: 5, maxTime: 1.5 };

/** Resident memory while each case ran, under `<suite>: <case>`. */
export const rss = new RssByPhase();

export interface Row {
  name: string;
  msPerTask: number;
  /** Relative margin of error, in percent (95% confidence). */
  rme: number;
  /** The fastest sample, per task. */
  fastestMsPerTask: number;
  samples: number;
  /** Mean over the baseline's mean. */
  ratio: number;
  /** Fastest sample over the baseline's fastest sample. */
  fastestRatio: number;
}

function rowsOf(summary: Summary, baseline: string, tasks: number): Row[] {
  // benny rounds `ops` for display; the mean time per op is exact.
  const base = summary.results.find((r) => r.name === baseline);
  if (!base) throw new Error(`the baseline '${baseline}' has no result`);
  return summary.results.map((r) => ({
    name: r.name,
    msPerTask: (r.details.mean * 1000) / tasks,
    rme: r.details.relativeMarginOfError,
    fastestMsPerTask: (r.details.min * 1000) / tasks,
    samples: r.samples,
    ratio: r.details.mean / base.details.mean,
    fastestRatio: r.details.min / base.details.min,
  }));
}

export const rowOf = (rows: Row[], name: string) => rows.find((r) => r.name === name)!;

type AnyTask = ReturnType<ReturnType<typeof delayed>>;

export interface Case {
  name: string;
  /** What each task is given, for the notes under the table. */
  given: string;
  options: object;
  /** One run of all the suite's tasks. */
  run(): Promise<readonly unknown[]>;
  /** What task i must return. */
  expected(i: number): number;
  close(): Promise<void>;
}

interface PoolCase extends Omit<Case, 'run' | 'close' | 'options'> {
  /** benny's options for the case; FAST_OPTIONS unless given. */
  options?: object;
  /** Absent: the default ('1M'); null: never shared. */
  maxNbytes?: null;
  indices: number[];
  task(i: number): AnyTask;
  /** A small task of the same function, to start the workers and compile it there. */
  warm(i: number): AnyTask;
}

/** `onPool` with what every case of one suite shares given once. */
export function casesOn(shared: Pick<PoolCase, 'indices' | 'warm' | 'expected'>): (spec: Omit<PoolCase, 'indices' | 'warm' | 'expected'> & Partial<PoolCase>) => Promise<Case> {
  return (spec) => onPool({ ...shared, ...spec });
}

/** A case on its own pool, warm: both workers started and the task function compiled before timing. */
export async function onPool(spec: PoolCase): Promise<Case> {
  const pool = new Parallel({ nJobs: N_JOBS, maxNbytes: spec.maxNbytes });
  await pool.run([spec.warm(0), spec.warm(1)]);
  const { name, given, options = FAST_OPTIONS, expected, indices, task } = spec;
  return { name, given, options, expected, run: () => pool.run(indices.map(task)), close: () => pool.close() };
}

/** The suite's cases, every result checked after every run: a case that loses the data must not be timed. The first case is the baseline. */
export async function runSuite(title: string, file: string, cases: Case[], tasks: number): Promise<Row[]> {
  const closeAll = () => Promise.all(cases.map((c) => c.close()));
  const fail = (error: unknown) => {
    console.error(`\nThe ${file} suite failed:`, error);
    void closeAll().finally(() => process.exit(1));
  };
  try {
    const added = cases.map(({ name, options, run, expected }) =>
      addAsync(
        name,
        async () => {
          rss.phase = `${file}: ${name}`;
          rss.sample();
          const results = await run();
          const wrong = results.length === tasks ? results.findIndex((value, i) => value !== expected(i)) : 0;
          if (wrong >= 0) throw new Error(`'${name}': task ${wrong} returned ${String(results[wrong])}, expected ${expected(wrong)} (${results.length} results)`);
        },
        fail,
        options,
      ),
    );
    console.log(`\n${title}`);
    const summary = await b.suite(title, b.configure({ minDisplayPrecision: 2 }), ...added, progress('ms per run'), ...saves(`sharing-${file}`));
    return rowsOf(summary, cases[0]!.name, tasks);
  } finally {
    rss.phase = undefined;
    await closeAll();
  }
}

/** A suite's table and the notes under it. */
export function table(file: string, rows: Row[], cases: { name: string; given: string }[]): string {
  return [
    markdownTable(
      ['case', 'ms per task', '±', 'samples', 'ratio to copied', 'fastest-sample ratio', 'times less than copied', 'RSS (MiB): start → peak'],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      rows.map((r) => [
        r.name,
        r.msPerTask < 1 ? r.msPerTask.toFixed(3) : r.msPerTask.toFixed(1),
        `${r.rme.toFixed(1)}%`,
        String(r.samples),
        `${r.ratio.toFixed(4)}×`,
        `${r.fastestRatio.toFixed(4)}×`,
        `${(1 / r.ratio).toFixed(1)}`,
        rss.cell(`${file}: ${r.name}`),
      ]),
    ),
    notes(cases),
  ].join('\n\n');
}

/** A time in ms, to 3 decimals under 1 ms. */
export const ms = (value: number) => (value < 1 ? value.toFixed(3) : value.toFixed(1));
