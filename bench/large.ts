/**
 * Large data at memory speed (issue 17, item 6): one large value given to
 * every task of a run, on warm pools of 2 threads, joblet with its default
 * options against piscina copying the value with each task, and against the
 * floor: the same array on a SharedArrayBuffer (`sharedArray.from`), which
 * no thread copies.
 *
 * Two values: an 80 MB Float64Array (10,000,000 doubles) and a list of
 * 1,000,000 integers. For each, runs of 1, 10 and 50 tasks with a value the
 * Parallel has not seen (two arrays alternate, so no run finds the one
 * before it), then a second run with the same value unchanged, then a run
 * after one element (the last) was changed: the answer must show it. Every
 * answer is checked against the main thread's. The array also captured by the
 * task function instead of passed, and nested in an object argument
 * (`{ weights }`). Then the array on 2 child processes. Figures are ms per task: the
 * wall time of one run divided by its tasks, the median of a few runs.
 *
 * Run: npm run bench:large (npm run build && node dist/bench/large.js); about a minute.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { delayed, Parallel, sharedArray, type Task } from 'joblet';
import { WORKERS, version } from './lib/paths.js';
import { cpusLine, loadAverages } from './lib/report.js';

const N_JOBS = 2;
const ARRAY_LENGTH = 10_000_000;
const LIST_LENGTH = 1_000_000;
const TASKS = [1, 10, 50] as const;

/** Reads one element and the last: a stale copy of the value shows in the answer. */
const readWithLast = (i: number, a: ArrayLike<number>) => a[i]! + a[a.length - 1]!;
const expectedOf = (a: ArrayLike<number>, i: number) => a[i]! + a[a.length - 1]!;

function makeArray(seed: number): Float64Array {
  const a = new Float64Array(ARRAY_LENGTH);
  for (let i = 0; i < a.length; i++) a[i] = i * 0.5 + seed;
  return a;
}
function makeList(seed: number): number[] {
  return Array.from({ length: LIST_LENGTH }, (_, i) => i + seed);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number | undefined) => (ms === undefined ? '' : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** One run of `n` tasks on `value`, timed, its answers checked; ms per task. */
async function timeJoblet(parallel: Parallel, value: ArrayLike<number>, n: number): Promise<number> {
  const tasks = Array.from({ length: n }, (_, i) => delayed(readWithLast)(i, value));
  const begun = performance.now();
  const out = (await parallel.run(tasks)) as number[];
  const ms = performance.now() - begun;
  out.forEach((v, i) => {
    if (v !== expectedOf(value, i)) throw new Error(`joblet gave ${v} for task ${i}, expected ${expectedOf(value, i)}: a stale value`);
  });
  return ms / n;
}

async function timePiscina(pool: Piscina, value: ArrayLike<number>, n: number): Promise<number> {
  const begun = performance.now();
  const out = (await Promise.all(Array.from({ length: n }, (_, i) => pool.run({ i, array: value })))) as number[];
  const ms = performance.now() - begun;
  out.forEach((v, i) => {
    if (v !== value[i]) throw new Error(`piscina gave ${v} for task ${i}`);
  });
  return ms / n;
}

interface Row { label: string; joblet: number; piscina?: number; floor?: number }

async function measure(name: string, make: (seed: number) => ArrayLike<number> & { [i: number]: number }, withFloor: boolean, pool: Piscina): Promise<Row[]> {
  const rows: Row[] = [];
  const parallel = new Parallel({ nJobs: N_JOBS });
  const values = [make(1), make(2)];
  const floorValue = withFloor ? sharedArray.from(values[0] as Float64Array) : undefined;
  try {
    // Warm: the workers started, the task function known.
    await parallel.run([delayed(readWithLast)(0, [1, 2]), delayed(readWithLast)(1, [1, 2])]);
    let turn = 0;
    for (const n of TASKS) {
      // The copies by piscina of 80 MB take 0.4 s each: fewer runs where each is long.
      const reps = n === 1 ? 5 : 3;
      const joblet: number[] = [];
      for (let r = 0; r < reps; r++) joblet.push(await timeJoblet(parallel, values[turn++ % 2]!, n));
      const piscina: number[] = [];
      for (let r = 0; r < (n === 50 ? 1 : reps); r++) piscina.push(await timePiscina(pool, values[0]!, n));
      const floor: number[] = [];
      if (floorValue) for (let r = 0; r < reps; r++) floor.push(await timeJoblet(parallel, floorValue, n));
      rows.push({ label: `${name}, ${n} task${n > 1 ? 's' : ''} per run, new value`, joblet: median(joblet), piscina: median(piscina), floor: floorValue ? median(floor) : undefined });
    }
    const value = values[turn % 2]!;
    await timeJoblet(parallel, value, 50);
    const second: number[] = [];
    for (let r = 0; r < 3; r++) second.push(await timeJoblet(parallel, value, 50));
    rows.push({ label: `${name}, 50 tasks, a second run with the same value`, joblet: median(second) });
    const mutated: number[] = [];
    for (let r = 0; r < 3; r++) {
      value[value.length - 1] = value[value.length - 1]! + 1;
      mutated.push(await timeJoblet(parallel, value, 50));
    }
    rows.push({ label: `${name}, 50 tasks, after its last element changed`, joblet: median(mutated) });
    const single: number[] = [];
    await timeJoblet(parallel, value, 1);
    for (let r = 0; r < 3; r++) single.push(await timeJoblet(parallel, value, 1));
    rows.push({ label: `${name}, 1 task, a second run with the same value`, joblet: median(single) });
    if (withFloor) rows.push(...(await capturedAndNested(parallel, name, value as Float64Array)));
  } finally {
    await parallel.close();
  }
  return rows;
}

/** One run of `n` tasks of `fn` (whose answers `expected` gives), timed and checked; ms per task. */
async function timeRun(parallel: Parallel, n: number, task: (i: number) => Task<number>, expected: (i: number) => number): Promise<number> {
  const tasks = Array.from({ length: n }, (_, i) => task(i));
  const begun = performance.now();
  const out = await parallel.run(tasks);
  const ms = performance.now() - begun;
  out.forEach((v, i) => {
    if (v !== expected(i)) throw new Error(`joblet gave ${v} for task ${i}, expected ${expected(i)}: a stale value`);
  });
  return ms / n;
}

/**
 * The array captured by the task function instead of passed (issue 17, item 4), and nested in
 * an object argument (`{ weights }`): 50 tasks, a second run with the same array, and a run
 * after its last element changed.
 */
async function capturedAndNested(parallel: Parallel, name: string, array: Float64Array): Promise<Row[]> {
  const rows: Row[] = [];
  const captured = (i: number) => array[i]! + array[array.length - 1]!;
  const readNested = (i: number, x: { weights: Float64Array }) => x.weights[i]! + x.weights[x.weights.length - 1]!;
  const arg = { weights: array };
  const cases: [string, (i: number) => Task<number>][] = [
    ['captured by the task function', (i) => delayed(captured)(i)],
    ['nested in an object argument', (i) => delayed(readNested)(i, arg)],
  ];
  for (const [how, task] of cases) {
    await timeRun(parallel, 50, task, captured);
    const second: number[] = [];
    for (let r = 0; r < 3; r++) second.push(await timeRun(parallel, 50, task, captured));
    rows.push({ label: `${name} ${how}, 50 tasks, a second run with the same value`, joblet: median(second) });
    const mutated: number[] = [];
    for (let r = 0; r < 3; r++) {
      array[array.length - 1] = array[array.length - 1]! + 1;
      mutated.push(await timeRun(parallel, 50, task, captured));
    }
    rows.push({ label: `${name} ${how}, 50 tasks, after its last element changed`, joblet: median(mutated) });
  }
  return rows;
}

/**
 * The 80 MB array on 2 child processes (issue 17, item 1: a file written once, read once per
 * worker): a new value at 1 and 10 tasks per run, a second run with the same value, a run after
 * a change. No piscina or floor: neither shares memory with a process.
 */
async function measureProcesses(name: string, values: Float64Array[]): Promise<Row[]> {
  const rows: Row[] = [];
  const parallel = new Parallel({ nJobs: N_JOBS, backend: 'processes' });
  try {
    await parallel.run([delayed(readWithLast)(0, [1, 2]), delayed(readWithLast)(1, [1, 2])]);
    let turn = 0;
    for (const n of [1, 10]) {
      const runs: number[] = [];
      for (let r = 0; r < 3; r++) runs.push(await timeJoblet(parallel, values[turn++ % 2]!, n));
      rows.push({ label: `${name} on ${N_JOBS} processes, ${n} task${n > 1 ? 's' : ''} per run, new value`, joblet: median(runs) });
    }
    const value = values[0]!;
    await timeJoblet(parallel, value, 10);
    const second: number[] = [];
    for (let r = 0; r < 3; r++) second.push(await timeJoblet(parallel, value, 10));
    rows.push({ label: `${name} on ${N_JOBS} processes, 10 tasks, a second run with the same value`, joblet: median(second) });
    const mutated: number[] = [];
    for (let r = 0; r < 3; r++) {
      value[value.length - 1] = value[value.length - 1]! + 1;
      mutated.push(await timeJoblet(parallel, value, 10));
    }
    rows.push({ label: `${name} on ${N_JOBS} processes, 10 tasks, after its last element changed`, joblet: median(mutated) });
  } finally {
    await parallel.close();
  }
  return rows;
}

const loadAtStart = loadAverages();
const started = performance.now();
const pool = new Piscina({ filename: new URL('read-element.js', WORKERS).href, minThreads: N_JOBS, maxThreads: N_JOBS });
let rows: Row[];
try {
  await Promise.all([pool.run({ i: 0, array: [1] }), pool.run({ i: 0, array: [1] })]);
  rows = [
    ...(await measure(`${(ARRAY_LENGTH * 8) / 1e6} MB Float64Array`, makeArray, true, pool)),
    ...(await measure(`${LIST_LENGTH.toLocaleString('en-US')}-int list`, makeList, false, pool)),
    ...(await measureProcesses(`${(ARRAY_LENGTH * 8) / 1e6} MB Float64Array`, [makeArray(3), makeArray(4)])),
  ];
} finally {
  await pool.destroy();
}

console.log(`\nnode ${process.version}, ${cpusLine()}, ${os.totalmem() / 2 ** 30 | 0} GiB; load at start ${loadAtStart}, at end ${loadAverages()}; piscina ${version('piscina')}`);
console.log(`${N_JOBS} threads, warm; ms per task (median); floor: the same array made with sharedArray.from, given to joblet\n`);
console.log('| case | joblet | piscina (copy) | floor (sharedArray) |');
console.log('| --- | ---: | ---: | ---: |');
for (const row of rows) console.log(`| ${row.label} | ${fmt(row.joblet)} | ${fmt(row.piscina)} | ${fmt(row.floor)} |`);
console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
