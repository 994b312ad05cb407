/**
 * 2. "array": an 80 MB Float64Array (10,000,000 doubles) read by 100 tasks,
 *    `(i, array) => array[i]`. Copied (a plain Float64Array, `maxNbytes:
 *    null`, the baseline) against `sharedArray.from(array)` (a
 *    SharedArrayBuffer: no copy at all on threads), the plain array shared
 *    automatically (default maxNbytes: one copy per worker per run), and
 *    `persist(array)` passed as a handle (`(i, m) => m.get()[i]`: the value
 *    moves to shared memory once, and workers keep it across runs until
 *    close()), and a floor row. Target: at most 1 ms per task with
 *    sharedArray, judged on its mean and on the upper bound of its 95%
 *    interval.
 * 3. The same 80 MB array sent to piscina by copy (`pool.run({ i, array })`,
 *    2 threads, the worker in bench/lib/workers/read-element.ts), the peer's
 *    reference. piscina is not a dependency of joblet: the row is skipped,
 *    with a message, unless it was installed (`npm install --save-dev piscina`).
 *
 * Results: bench/results/sharing-array.json and its chart.
 */
import { delayed, persist, sharedArray, type PersistedModel } from 'joblet';
import { WORKERS } from '../lib/paths.js';
import { verdict } from '../lib/report.js';
import { N_JOBS, SLOW_OPTIONS, casesOn, ms, rowOf, runSuite, type Case, type Row } from './suite.js';

export const ARRAY_LENGTH = 10_000_000; // 8 bytes each: 80 MB
export const ARRAY_TASKS = 100;
/** ms per task with sharedArray, at most (issue 4). */
const ARRAY_TARGET_MS = 1;

// Task functions travel as their source: each reads only its arguments.
const readElement = (i: number, array: Float64Array) => array[i]!;
const readPersisted = (i: number, model: PersistedModel<Float64Array>) => model.get()[i]!;
const halfOf = (i: number) => i * 0.5;

export const array = new Float64Array(ARRAY_LENGTH);
for (let i = 0; i < ARRAY_LENGTH; i++) array[i] = i * 0.5;
const arrayIndices = Array.from({ length: ARRAY_TASKS }, (_, i) => i);

interface PiscinaPool {
  run(task: { i: number; array: Float64Array }): Promise<number>;
  destroy(): Promise<void>;
}
type PiscinaClass = new (options: { filename: string; minThreads: number; maxThreads: number }) => PiscinaPool;

/** piscina if it is installed, else why the row is skipped. */
async function loadPiscina(): Promise<{ Piscina: PiscinaClass; version: string } | { skipped: string }> {
  // A variable, so that tsc does not look for a package that is not a dependency.
  const specifier = 'piscina';
  try {
    const module = (await import(specifier)) as { Piscina: PiscinaClass; version?: string };
    return { Piscina: module.Piscina, version: module.version ?? '(version unknown)' };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    return {
      skipped:
        `piscina row skipped: import('piscina') failed (${reason}). ` +
        'piscina is not a dependency of joblet; to include the row: npm install --save-dev piscina',
    };
  }
}

/** piscina's pool, warm, given the array by copy (no transferList: it is cloned into the worker for every task). */
async function piscinaCase(Piscina: PiscinaClass, version: string, array: Float64Array, indices: number[]): Promise<Case> {
  const pool = new Piscina({ filename: new URL('read-element.js', WORKERS).href, minThreads: N_JOBS, maxThreads: N_JOBS });
  const small = new Float64Array([0, 0.5]);
  await Promise.all([pool.run({ i: 0, array: small }), pool.run({ i: 1, array: small })]);
  return {
    name: `piscina ${version}, copied`,
    given: '`pool.run({ i, array })` on piscina (2 threads), the plain Float64Array cloned with every task (bench/lib/workers/read-element.ts)',
    options: SLOW_OPTIONS,
    expected: (i) => i * 0.5,
    run: () => Promise.all(indices.map((i) => pool.run({ i, array }))),
    close: () => pool.destroy(),
  };
}

function timed<T>(make: () => T): { value: T; ms: number } {
  const begun = performance.now();
  const value = make();
  return { value, ms: performance.now() - begun };
}

export interface ArraySuite {
  cases: Case[];
  rows: Row[];
  /** Why the piscina row is missing, if it is. */
  piscinaSkipped: string | undefined;
  /** One-time costs, outside the timed runs (ms): `sharedArray.from(array)`, `persist(array)`. */
  fromArrayMs: number;
  persistMs: number;
  /** The handle's first run, per task (ms): the copy to shared memory and the send to each worker. */
  firstPersistRun: number;
}

export async function measureArray(): Promise<ArraySuite> {
  // One-time costs, outside the timed runs: the copy into shared memory, and persist()'s own checks.
  const fromArray = timed(() => sharedArray.from(array));
  const persistArray = timed(() => persist(array));
  const shared = fromArray.value;
  const model = persistArray.value;

  const piscina = await loadPiscina();
  if ('skipped' in piscina) console.log(`\n${piscina.skipped}`);

  const arrayExpected = (i: number) => i * 0.5;
  const smallArray = new Float64Array([0, 0.5]);
  const smallRead = (i: number) => delayed(readElement)(i, smallArray);
  const arrayCase = casesOn({ indices: arrayIndices, warm: smallRead, expected: arrayExpected });
  const persistCase = await arrayCase({
    name: 'persist, handle',
    given: '`delayed((i, m) => m.get()[i])(i, persist(array))`: moved to shared memory on the first run, kept by the workers until close()',
    task: (i) => delayed(readPersisted)(i, model),
  });
  // The handle's first run, timed alone: the copy to shared memory and the send to each worker. The suite times the runs after it.
  const firstPersistRun = await (async () => {
    const begun = performance.now();
    await persistCase.run();
    return (performance.now() - begun) / ARRAY_TASKS;
  })();

  const cases: Case[] = [
    await arrayCase({
      name: 'copied',
      given: '`delayed(readElement)(i, array)`, a plain Float64Array, with `maxNbytes: null`: cloned with every task',
      options: SLOW_OPTIONS,
      maxNbytes: null,
      task: (i) => delayed(readElement)(i, array),
    }),
    await arrayCase({
      name: 'sharedArray',
      given: '`delayed(readElement)(i, sharedArray.from(array))`: the same memory in every thread, no copy',
      task: (i) => delayed(readElement)(i, shared),
    }),
    await arrayCase({
      name: 'shared automatically',
      given: "`delayed(readElement)(i, array)`, a plain Float64Array, default `maxNbytes` ('1M'): cloned to each worker once per run",
      task: (i) => delayed(readElement)(i, array),
    }),
    persistCase,
    ...('skipped' in piscina ? [] : [await piscinaCase(piscina.Piscina, piscina.version, array, arrayIndices)]),
    await arrayCase({
      name: 'floor (no array)',
      given: '`delayed((i) => i * 0.5)(i)`: a task with nothing to move',
      task: (i) => delayed(halfOf)(i),
      warm: (i) => delayed(halfOf)(i),
    }),
  ];
  try {
    const rows = await runSuite(
      `array: ${ARRAY_TASKS} tasks (i, array) => array[i], array = Float64Array of ${ARRAY_LENGTH.toLocaleString('en-US')} doubles (80 MB)`,
      'array',
      cases,
      ARRAY_TASKS,
    );
    const piscinaSkipped = 'skipped' in piscina ? piscina.skipped : undefined;
    return { cases, rows, piscinaSkipped, fromArrayMs: fromArray.ms, persistMs: persistArray.ms, firstPersistRun };
  } finally {
    model.close();
  }
}

/** The target's line under 'Targets'. */
export function arrayTarget({ rows }: ArraySuite): string {
  const arrayShared = rowOf(rows, 'sharedArray');
  const upperBound = arrayShared.msPerTask * (1 + arrayShared.rme / 100);
  const arrayVerdict = verdict(arrayShared.msPerTask <= ARRAY_TARGET_MS, upperBound <= ARRAY_TARGET_MS);
  return (
    `- array, sharedArray, at most ${ARRAY_TARGET_MS} ms per task on threads: **${arrayVerdict}**; ` +
    `${ms(arrayShared.msPerTask)} ms (mean), ${ms(upperBound)} ms (upper bound, 95%), ${ms(arrayShared.fastestMsPerTask)} ms (fastest sample); ` +
    `${(1 / arrayShared.ratio).toFixed(0)} times less than copied`
  );
}
