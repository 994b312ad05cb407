/**
 * Serialization and wrappers: joblet's port of joblib's example of the same name.
 *
 * Every task crosses a thread boundary twice, so the serializer decides what a
 * task may contain and how much a large argument costs. This demo times one
 * call with a 1,000,000-element argument under each built-in serializer, then
 * sends a closure: 'structured' refuses it, 'closure' (joblet's cloudpickle)
 * carries it with what it captures, and 'auto', the default, does the same
 * while keeping the data on structured clone. Last, `wrapNonSerializable`
 * sends one value by the slow path by hand, as joblib's wrapper does.
 *
 * Run: npm run demo
 */
import {
  Parallel,
  SerializationError,
  delayed,
  getDefaultSerializer,
  listSerializers,
  wrapNonSerializable,
  type Task,
} from 'joblet';

const REPEATS = 3;
const WIDTH = { label: 30, serializer: 16, outcome: 57 };

// These functions read only their arguments, so every serializer that carries
// functions at all can send them as source text.
const funcAsync = (i: number, ...args: unknown[]) => 2 * i;
const applyTo = (list: number[], transform: (x: number) => number) => {
  let sum = 0;
  for (const x of list) sum += transform(x);
  return sum;
};
const inc = (x: number) => x + 1;

const largeList = Array.from({ length: 1_000_000 }, (_, i) => i);

interface Row {
  label: string;
  serializer: string;
  ms: number;
  outcome: string;
}
const rows: Row[] = [];
const refusals: { row: Row; error: unknown }[] = [];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const clip = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);

function firstLine(error: unknown): string {
  if (error instanceof SerializationError) return `refused at ${error.path}: ${error.problem.replace(/^Cannot serialize: /, '')}`;
  return error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
}

/**
 * Median time of REPEATS warm runs of one task. The pool is started first
 * (both workers, with a tiny run) because a worker costs tens of
 * milliseconds to start, which would hide the differences we came to see.
 */
async function measure(
  label: string,
  serializer: string | undefined,
  makeTask: () => Task<unknown>,
  expected: unknown,
): Promise<void> {
  // No serializer option: the run takes the default, as most code will. maxNbytes: null turns
  // off automatic sharing, which would send the list around the serializer we came to compare
  // (part 5 shows what sharing does).
  const parallel = new Parallel(serializer === undefined ? { nJobs: 2, maxNbytes: null } : { nJobs: 2, serializer, maxNbytes: null });
  if (serializer === undefined) serializer = `${getDefaultSerializer()} (default)`;
  const times: number[] = [];
  let start = 0;
  try {
    await parallel.run([delayed(funcAsync)(0), delayed(funcAsync)(0)]);
    for (let r = 0; r < REPEATS; r++) {
      start = performance.now();
      const [result] = await parallel.run([makeTask()]);
      times.push(performance.now() - start);
      if (result !== expected) throw new Error(`wrong result: expected ${String(expected)}, got ${String(result)}`);
    }
    rows.push({ label, serializer, ms: median(times), outcome: 'ok' });
  } catch (error) {
    // The time to a refusal: a serializer that refuses late has already paid for the work before it.
    const row = { label, serializer, ms: performance.now() - start, outcome: firstLine(error) };
    rows.push(row);
    refusals.push({ row, error });
  } finally {
    await parallel.close();
  }
}

// 1. Plain data under every serializer. 'structured' is V8's own binary codec,
// written in C++; 'json' and 'devalue' write text and parse it back; 'javascript'
// writes source text that the worker evaluates. 'closure' walks the value graph
// to find functions and hands the data it meets to structured clone; 'auto' sees
// at once that the payload is plain data and sends it through structured clone
// alone. The list dominates every payload.
for (const serializer of listSerializers()) {
  await measure('funcAsync(21, largeList)', serializer, () => delayed(funcAsync)(21, largeList), 42);
}

// 2. A closure: `scale` reads `factor` from this module. Under 'structured' a
// function travels as its source only, so the worker would have no `factor`:
// joblet refuses it at submission rather than letting a ReferenceError surface
// in the worker. 'closure' sends the source with a snapshot of `factor`, taken
// at submission; 'auto', the default, sends the function that way too.
const factor = 2;
const scale = (i: number) => factor * i;
await measure('scale(21), captures factor', 'structured', () => delayed(scale)(21), 42);
await measure('scale(21), captures factor', undefined, () => delayed(scale)(21), 42);
await measure('scale(21), captures factor', 'closure', () => delayed(scale)(21), 42);

// 3. A function inside the arguments. 'structured' cannot carry functions at
// all; 'javascript' can, but then writes the whole list as source text too;
// 'auto' sends `inc` through the closure codec and the list through structured clone.
const expectedSum = applyTo(largeList, inc);
await measure('applyTo(largeList, inc)', 'structured', () => delayed(applyTo)(largeList, inc), expectedSum);
await measure('applyTo(largeList, inc)', 'javascript', () => delayed(applyTo)(largeList, inc), expectedSum);
await measure('applyTo(largeList, inc)', 'auto', () => delayed(applyTo)(largeList, inc), expectedSum);

// 4. The same by hand under 'structured': wrapped, only `inc` takes the
// 'closure' path, encoded once per run and sent to each worker once; the list
// stays on 'structured'. The price is a copy of the arguments made in
// JavaScript, to swap the wrapped value for a reference: dearer than plain
// 'structured', cheaper than the list as source text.
const wrappedInc = wrapNonSerializable(inc);
await measure('applyTo(largeList, wrap(inc))', 'structured', () => delayed(applyTo)(largeList, wrappedInc), expectedSum);
// The task function itself may be wrapped too, joblib's decorator form.
await measure('wrap(funcAsync)(21, largeList)', 'structured', () => delayed(wrapNonSerializable(funcAsync))(21, largeList), 42);
// The fallback is the closure serializer, so a wrapped closure takes `factor` along.
await measure('wrap(scale)(21)', 'structured', () => delayed(wrapNonSerializable(scale))(21), 42);

console.log(`One task with a ${largeList.length.toLocaleString('en-US')}-element list on 2 worker threads: median of ${REPEATS} warm runs,`);
console.log('or for a refusal the time until it. wrap = wrapNonSerializable.\n');
const line = (label: string, serializer: string, ms: string, outcome: string) =>
  console.log(`${label.padEnd(WIDTH.label)} ${serializer.padEnd(WIDTH.serializer)} ${ms.padStart(8)}  ${outcome}`);
line('case', 'serializer', 'ms', 'outcome');
line('-'.repeat(WIDTH.label), '-'.repeat(WIDTH.serializer), '-'.repeat(8), '-'.repeat(WIDTH.outcome));
for (const row of rows) line(row.label, row.serializer, row.ms.toFixed(1), clip(row.outcome, WIDTH.outcome));

console.log('\nWhy each refusal happened, and what to do (the full error):');
for (const { row, error } of refusals) {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.log(`\n* ${row.label} [${row.serializer}]`);
  console.log(message.replace(/(.{1,96})(?:\s+|$)/g, '    $1\n').trimEnd());
}
console.log(
  "\nNote: 'auto', the default, does per value what wrapNonSerializable does by hand: structured clone\n" +
    "for data, the closure codec for functions and class instances. Wrap a value when you choose 'structured'.",
);

// 5. Many tasks, one list. Each of the tables above sends the list once; 20 tasks that all
// take it would clone it 20 times. joblet shares an argument larger than `maxNbytes`
// (default '1M', joblib's max_nbytes) instead: sent to each worker once for the run.
const TASKS = 20;
console.log(`\n${TASKS} tasks given the same ${largeList.length.toLocaleString('en-US')}-element list, 2 worker threads (median of ${REPEATS} warm runs):\n`);
const perTask: string[] = [];
for (const [label, maxNbytes] of [['copied with every task (maxNbytes: null)', null], ["shared automatically (maxNbytes: '1M')", '1M']] as const) {
  const parallel = new Parallel({ nJobs: 2, maxNbytes });
  await parallel.run([delayed(funcAsync)(0), delayed(funcAsync)(0)]);
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    const results = await parallel.run(Array.from({ length: TASKS }, () => delayed(funcAsync)(21, largeList)));
    times.push((performance.now() - start) / TASKS);
    if (results.some((result) => result !== 42)) throw new Error('wrong result');
  }
  await parallel.close();
  perTask.push(median(times).toFixed(2));
  console.log(`${label.padEnd(42)} ${median(times).toFixed(2).padStart(8)} ms per task`);
}
console.log(`\nShared, each task costs ${(Number(perTask[0]) / Number(perTask[1])).toFixed(0)} times less than copied.`);
