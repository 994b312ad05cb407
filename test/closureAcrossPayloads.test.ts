/**
 * Silently wrong answers a review found (issue 13), now carried exactly or refused at submission:
 *
 * - a `let` that the task function and a function passed in its arguments both capture, and one
 *   of them assigns: the def and the arguments are two payloads, so the worker held two copies
 *   of the binding and answered 0 where this thread answers 2;
 * - a unique symbol inside captured data (an array item, a Map key): refused "at fn" with V8's
 *   "could not be cloned"; now it travels like a captured symbol, one symbol per id.
 *
 * Each case runs in a real worker thread and a real child process; the expected value is the
 * same call in this thread.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed, SerializationError } from 'joblet';

// Module level: one binding for every function of this file, so sharing is certain.
let n = 0;
const inc = (): number => ++n;
const get = (): number => n;
let base = 10; // eslint-disable-line prefer-const -- a `let` no sent function assigns
const readBase = (): number => base;
const addBase = (x: number): number => x + base;

// Two counters from one factory, holding different values: two bindings, proven by their values.
function makeCounter(start: number) {
  let m = start;
  return { inc: () => ++m, get: () => m };
}
const first = makeCounter(5);
const second = makeCounter(0);
const firstGet = first.get;
// Two counters from one factory at the same value, and one counter whose functions split across payloads:
// which binding each function holds is proven by a pause at one of them (src/closure/scopeProbe.ts).
const third = makeCounter(0);
const fourth = makeCounter(0);
const fourthGet = fourth.get;
const fifth = makeCounter(0);
const fifthGet = fifth.get;

// A class that counts in a module `let`: in both payloads it is one class in the worker (one binding).
let made = 0;
class Made {
  constructor() {
    made++;
  }
  static count(): number {
    return made;
  }
}
const readMade = (): number => made;

const tag = Symbol('tag');
const tagged = { list: [1, tag], byTag: new Map<symbol, number>([[tag, 7]]), tags: new Set([tag]) };

interface Case {
  name: string;
  fn: (...args: any[]) => unknown;
  args?: unknown[];
}
/**
 * Carried: the worker answers what this thread answers. The answers are written out: the same
 * call here would change the counters the workers' copies are taken from.
 */
const CARRIED: (Case & { expect: unknown })[] = [
  { name: 'a written `let` whose functions are all arguments (one payload)', fn: (a: () => number, b: () => number) => { a(); a(); return b(); }, args: [inc, get], expect: 2 },
  { name: 'a written `let` whose functions are all captured by the task function', fn: () => { inc(); inc(); return get(); }, expect: 2 },
  { name: 'a `let` no sent function assigns, read by the task function and an argument', fn: (f: (x: number) => number) => f(1) + readBase(), args: [addBase], expect: 21 },
  { name: "two counters of one factory (different values): the argument's and the task function's", fn: (f: () => number) => [f(), firstGet()], args: [second.inc], expect: [1, 5] },
  { name: 'two counters of one factory at the same value: the argument\'s and the task function\'s (proven two bindings)', fn: (f: () => number) => { f(); f(); return fourthGet(); }, args: [third.inc], expect: 0 },
  { name: 'a class that assigns a `let`, captured and passed (one class per run in the worker)', fn: (C: typeof Made) => { new C(); return [Made.count(), C === Made]; }, args: [Made], expect: [1, true] },
  { name: 'a unique symbol in a captured array, Map key and Set', fn: () => [tagged.list[1] === tag, tagged.byTag.get(tag), tagged.tags.has(tag), String(tagged.list[1])], expect: [true, 7, true, 'Symbol(tag)'] },
];
/** Refused at submission: a copy per payload would answer differently. */
const REFUSED: (Case & { path: RegExp; binding?: string })[] = [
  { name: 'the argument assigns a `let` the task function reads', fn: (f: () => number) => { f(); f(); return get(); }, args: [inc], path: /args\[0\]/ },
  { name: 'the task function assigns a `let` the argument reads', fn: (g: () => number) => { inc(); inc(); return g(); }, args: [get], path: /args\[0\]/ },
  { name: 'one function both captured and passed', fn: (f: () => number) => f() + inc(), args: [inc], path: /args\[0\]/ },
  { name: 'a class assigns a `let` a function in the arguments reads', fn: (f: () => number) => { new Made(); return f(); }, args: [readMade], path: /args\[0\]/, binding: 'made' },
  { name: "one factory call's counter: its inc passed, its get captured", fn: (f: () => number) => { f(); return fifthGet(); }, args: [fifth.inc], path: /args\[0\]/, binding: 'm' },
  { name: 'the argument nested in an object', fn: (o: { f: () => number }) => { o.f(); return get(); }, args: [{ f: inc }], path: /args\[0\]\.f/ },
];

const here = (value: unknown) => structuredClone(value);

for (const backend of ['threads', 'processes'] as const) {
  const test = suite(`shared bindings and nested symbols in a ${backend} worker`);
  let parallel: Parallel;
  test.before(() => {
    parallel = new Parallel({ backend, nJobs: 1 });
  });
  test.after(async () => {
    await parallel.close();
  });
  for (const c of CARRIED) {
    test(`carried: ${c.name}`, async () => {
      const [result] = await parallel.run([delayed(c.fn)(...(c.args ?? []))]);
      assert.equal(here(result), c.expect);
    });
  }
  for (const c of REFUSED) {
    test(`refused at submission: ${c.name}`, async () => {
      try {
        await parallel.run([delayed(c.fn)(...(c.args ?? []))]);
        assert.unreachable('a binding shared across payloads was sent as two copies');
      } catch (error) {
        if (!(error instanceof SerializationError)) throw error;
        const message = String(error.message);
        assert.match(message, `capture one binding \`${c.binding ?? 'n'}\``);
        assert.match(message, c.path);
        assert.match(message, /capture them all in the task function/);
      }
    });
  }
  test('a symbol a task returns from captured data is the original again', async () => {
    const [back] = await parallel.run([delayed(() => tagged.list[1])()]);
    assert.is(back, tag);
  });
  test.run();
}
