/**
 * 5. The first run of a fresh pool against a warm one (issue 17, item 5):
 *    100,000 tasks `x + 1`, `parallel.run(items.map((x) => delayed(inc)(x)))`
 *    as in throughput.ts, on a Parallel of 2 threads made for the purpose.
 *    Runs 1, 2 and 3 of the fresh Parallel, and warm: the median of runs 6
 *    to 10 of the same one. Three starts:
 *    - a fresh process: nothing of joblet has run yet in the main thread or
 *      in the workers (what a script that runs once sees); its first run
 *      includes starting the workers;
 *    - a fresh process whose workers were started by a run of 2 other tasks
 *      first: the first run without the threads' start-up;
 *    - a fresh Parallel in this process, after the other measurements: the
 *      main thread's code is hot, the workers are new.
 *    Each start is sampled SAMPLES times (a new process or Parallel each
 *    time); figures are medians. Target: the first run at least 0.8x warm.
 *
 *    The floor, measured the same way in the same run: bare worker_threads
 *    given 1,000 numbers per message (bench/lib/raw-pool.ts, the throughput
 *    baseline), in a fresh process, with and without its workers started
 *    first. Its own first run pays the threads' start and V8's warm-up of
 *    both sides too, so the last column compares joblet's first run with the
 *    floor's: the part of the cold start that is joblet's. (The floor's
 *    'fresh Parallel' is a new pool of bare workers in this process.)
 *
 * Alone: npm run build && node dist/bench/dispatch/first-run.js
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { delayed, Parallel } from 'joblet';
import { isEntry } from '../lib/paths.js';
import { cpusLine, loadAverages, markdownTable, median, thousands } from '../lib/report.js';
import { RawPool } from '../lib/raw-pool.js';
import { N_JOBS, RAW_BATCH, inc } from './pools.js';

const TASKS = 100_000;
const SAMPLES = 5;
const RUNS = 10;
const TARGET = 0.8;

type Start = 'fresh process' | 'fresh process, workers started' | 'fresh Parallel, warm process';
type FloorStart = Start;
/** Tasks/s of each run of one fresh Parallel, in order. */
type Sample = number[];

const items = Array.from({ length: TASKS }, (_, i) => i);

/** RUNS runs of TASKS tasks on a new Parallel: tasks/s of each. */
async function sample(startWorkers: boolean): Promise<Sample> {
  const parallel = new Parallel({ nJobs: N_JOBS });
  try {
    if (startWorkers) await parallel.run([delayed((x: number) => x)(0), delayed((x: number) => x)(1)]);
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const begun = performance.now();
      const out = (await parallel.run(items.map((x) => delayed(inc)(x)))) as number[];
      const ms = performance.now() - begun;
      if (out.length !== TASKS || out[TASKS - 1] !== TASKS) throw new Error(`run ${r} gave ${out.length} results, the last ${out[TASKS - 1]}`);
      rates.push(TASKS / (ms / 1000));
    }
    return rates;
  } finally {
    await parallel.close();
  }
}

/** The same runs on bare workers, RAW_BATCH numbers per message: tasks/s of each. */
async function floorSample(startWorkers: boolean): Promise<Sample> {
  const pool = new RawPool(N_JOBS);
  try {
    if (startWorkers) await pool.batched([0, 1], 1);
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const begun = performance.now();
      const out = await pool.batched(items, RAW_BATCH);
      const ms = performance.now() - begun;
      if (out.length !== TASKS || out[TASKS - 1] !== TASKS) throw new Error(`floor run ${r} gave ${out.length} results, the last ${out[TASKS - 1]}`);
      rates.push(TASKS / (ms / 1000));
    }
    return rates;
  } finally {
    await pool.close();
  }
}

interface Row {
  first: number;
  second: number;
  third: number;
  warm: number;
}

export interface FirstRun {
  rows: (Row & { start: Start })[];
  floor: (Row & { start: FloorStart })[];
}

function summary(of: Sample[]): Row {
  return {
    first: median(of.map((rates) => rates[0]!)),
    second: median(of.map((rates) => rates[1]!)),
    third: median(of.map((rates) => rates[2]!)),
    warm: median(of.map((rates) => median(rates.slice(5)))),
  };
}

/** Every start SAMPLES times; the processes one after the other, never two at once. */
export async function measureFirstRun(): Promise<FirstRun> {
  const self = fileURLToPath(import.meta.url);
  const inChild = (mode: string): Sample => JSON.parse(execFileSync(process.execPath, [self, '--child', mode], { encoding: 'utf8' }).trim().split('\n').pop()!) as Sample;
  const samples: Record<Start, Sample[]> = { 'fresh process': [], 'fresh process, workers started': [], 'fresh Parallel, warm process': [] };
  const floors: Record<FloorStart, Sample[]> = { 'fresh process': [], 'fresh process, workers started': [], 'fresh Parallel, warm process': [] };
  for (let s = 0; s < SAMPLES; s++) {
    samples['fresh process'].push(inChild('cold'));
    floors['fresh process'].push(inChild('floor-cold'));
    samples['fresh process, workers started'].push(inChild('started'));
    floors['fresh process, workers started'].push(inChild('floor-started'));
    samples['fresh Parallel, warm process'].push(await sample(false));
    floors['fresh Parallel, warm process'].push(await floorSample(false));
  }
  return {
    rows: (Object.keys(samples) as Start[]).map((start) => ({ start, ...summary(samples[start]) })),
    floor: (Object.keys(floors) as FloorStart[]).map((start) => ({ start, ...summary(floors[start]) })),
  };
}

export function firstRunSections({ rows, floor }: FirstRun): string[] {
  const rate = thousands;
  const floorOf = (start: Start) => floor.find((f) => f.start === start);
  return [
    [
      `First run of a fresh pool: ${TASKS.toLocaleString('en-US')} tasks \`x + 1\`, ${N_JOBS} threads, tasks/s (median of ${SAMPLES} fresh starts; warm: runs 6-${RUNS} of the same Parallel). The floor: bare worker_threads, ${RAW_BATCH.toLocaleString('en-US')} numbers per message, started the same way in the same run`,
      markdownTable(
        ['start', 'run 1', 'run 2', 'run 3', 'warm', 'run 1 / warm', 'floor: run 1 / warm', "joblet's run 1 / floor's, against warm / floor's warm"],
        ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
        rows.map((r) => {
          const f = floorOf(r.start);
          return [
            r.start,
            rate(r.first),
            rate(r.second),
            rate(r.third),
            rate(r.warm),
            `${(r.first / r.warm).toFixed(2)}x`,
            f ? `${(f.first / f.warm).toFixed(2)}x` : '',
            f ? `${(r.first / f.first).toFixed(3)}x against ${(r.warm / f.warm).toFixed(3)}x` : '',
          ];
        }),
      ),
      markdownTable(
        ['floor start', 'run 1', 'run 2', 'run 3', 'warm'],
        ['---', '---:', '---:', '---:', '---:'],
        floor.map((f) => [f.start, rate(f.first), rate(f.second), rate(f.third), rate(f.warm)]),
      ),
    ].join('\n\n'),
  ];
}

export function firstRunTarget({ rows, floor }: FirstRun): { line: string } {
  const parts = rows.map((r) => `${r.start} ${(r.first / r.warm).toFixed(2)}x`);
  const floors = floor.map((f) => `${f.start} ${(f.first / f.warm).toFixed(2)}x`);
  const met = rows.every((r) => r.first / r.warm >= TARGET);
  return { line: `- first run of a fresh pool at least ${TARGET}x warm: **${met ? 'met' : 'MISSED'}** (${parts.join(', ')}; bare worker_threads in the same run: ${floors.join(', ')})` };
}

if (process.argv[2] === '--child') {
  const mode = process.argv[3]!;
  console.log(JSON.stringify(mode.startsWith('floor-') ? await floorSample(mode === 'floor-started') : await sample(mode === 'started')));
} else if (isEntry(import.meta.url)) {
  console.log(`node ${process.version}, ${cpusLine()}; load at start ${loadAverages()}`);
  const result = await measureFirstRun();
  console.log(`\n${firstRunSections(result).join('\n\n')}\n\n${firstRunTarget(result).line}\nload at end ${loadAverages()}`);
}
