/**
 * Closures whose captures are more than plain values: built-ins held in
 * variables (they travel as their path and are looked up in the receiver's
 * realm), a captured `let` shared by two functions (one cell in the worker),
 * captured state a task writes to (each run starts from its own snapshot),
 * and where a task's error points (the user's file and line). Every case runs
 * in a real worker thread and a real child process, and where it applies is
 * rebuilt by the 'closure' serializer in a fresh vm context; the expected
 * answer is the same call in this thread.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import vm from 'node:vm';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed, getSerializer, TaskError } from 'joblet';
import { decodeGraph, type Graph } from '../src/closure/codec.js';

type Fn = (...a: unknown[]) => unknown;
const BACKENDS = ['threads', 'processes'] as const;

// ---- item 1: built-ins held in variables ---------------------------------------------
const hasOwn = Object.prototype.hasOwnProperty;
const slice = Array.prototype.slice;
const toStr = Object.prototype.toString;
const call = Function.prototype.call;
const iteratorKey = Symbol.iterator;
const max = Math.max;
const stringify = JSON.stringify;
const resolve = Promise.resolve;
const sizeOf = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!;
const subarray = Uint8Array.prototype.subarray;
const objectProto = Object.prototype;
const includes = Array.prototype.includes;
const arrayProto = Array.prototype;
// Not the built-in: a function of this module that only shares its name.
const mine = { hasOwnProperty(this: unknown, _key: string) { return 'mine'; } }.hasOwnProperty;

const BUILTIN_CASES: { name: string; fn: Fn }[] = [
  { name: 'Object.prototype.hasOwnProperty in a variable (lodash)', fn: () => [hasOwn.call({ a: 1 }, 'a'), hasOwn.call({}, 'a')] },
  { name: 'Array.prototype.slice and Function.prototype.call', fn: () => call.call(slice, [1, 2, 3, 4], 1, 3) },
  { name: 'Object.prototype.toString as a tag reader', fn: () => [toStr.call([]), toStr.call(null), toStr.call(new Map())] },
  { name: 'Symbol.iterator and Array.prototype.includes held in variables', fn: () => includes.call([...({ *[iteratorKey]() { yield 1; yield 2; } } as unknown as Iterable<number>)], 2) },
  { name: 'Math.max, JSON.stringify, Promise.resolve beside Object.prototype.toString', fn: async () => [max(1, 5, 3), stringify({ a: [1] }), await resolve.call(Promise, 9), toStr.call(1)] },
  { name: 'a getter: Map.prototype.size', fn: () => sizeOf.call(new Map([[1, 2], [3, 4]])) },
  { name: 'an inherited method: %TypedArray%.prototype.subarray', fn: () => [...(subarray.call(new Uint8Array([1, 2, 3, 4]), 1, 3) as Uint8Array)] },
  { name: 'Object.prototype and Array.prototype themselves, by identity', fn: () => [Object.getPrototypeOf({}) === objectProto, Object.getPrototypeOf([]) === arrayProto, hasOwn.call(arrayProto, 'map')] },
  { name: 'a user function named like a built-in is the user function', fn: () => [mine.call({}, 'x'), hasOwn.call({ x: 1 }, 'x')] },
];

const expected = new Map<string, unknown>();
for (const c of BUILTIN_CASES) expected.set(c.name, await c.fn());

for (const backend of BACKENDS) {
  const test = suite(`built-ins held in variables, in a ${backend} worker`);
  let parallel: Parallel;
  test.before(() => {
    parallel = new Parallel({ backend, nJobs: 1 });
  });
  test.after(async () => {
    await parallel.close();
  });
  for (const c of BUILTIN_CASES) {
    test(c.name, async () => {
      const [result] = await parallel.run([delayed(c.fn)()]);
      assert.equal(result, expected.get(c.name));
    });
  }
  test.run();
}

const closure = getSerializer('closure');
/** `value` rebuilt by the closure codec in a fresh vm context (its own built-ins). */
function inFreshContext<T>(value: T): T {
  const context = vm.createContext({});
  return decodeGraph(v8.deserialize(closure.serialize(value) as Uint8Array) as Graph, { context }) as T;
}

const inVm = suite("built-ins rebuilt by 'closure' in a fresh vm context: that realm's own");
for (const c of BUILTIN_CASES) {
  inVm(c.name, async () => {
    // JSON round trip: values made in the vm realm compare equal to this realm's by content.
    assert.equal(JSON.parse(JSON.stringify(await inFreshContext(c.fn)())), JSON.parse(JSON.stringify(expected.get(c.name))));
  });
}
inVm('the rebuilt Object.prototype is the context\'s own, not a copy', () => {
  const context = vm.createContext({});
  const fn = decodeGraph(v8.deserialize(closure.serialize(() => objectProto) as Uint8Array) as Graph, { context }) as () => object;
  assert.ok(fn() === vm.runInContext('Object.prototype', context));
});
inVm.run();

// ---- item 11: each run starts from the snapshot taken at its submission ---------------
const triple = [0, 0, 0];
/** Writes into the captured array and says what it found: a later run must find the main thread's values again. */
const overwrite = () => {
  const before = [...triple];
  triple[0] = 99;
  return before;
};

for (const backend of BACKENDS) {
  const test = suite(`a capture is a snapshot per run, in a ${backend} worker`);
  test('what a task wrote into a captured array is not seen by the next run of the same function', async () => {
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      const first = await parallel.run([delayed(overwrite)()]);
      const second = await parallel.run([delayed(overwrite)()]);
      assert.equal(first, [[0, 0, 0]]);
      assert.equal(second, [[0, 0, 0]]);
      assert.equal(triple, [0, 0, 0]);
      // Within one run the tasks share the rebuilt function, as they share the function in this thread.
      const together = await parallel.run([delayed(overwrite)(), delayed(overwrite)()]);
      assert.equal(together, [[0, 0, 0], [99, 0, 0]]);
    } finally {
      await parallel.close();
    }
  });
  test('a function expression that captures nothing but reaches itself by its own name is rebuilt each run too', async () => {
    // Only an arrow that captures nothing is built once per worker (nothing a task runs can reach
    // it); this one captures nothing and writes into itself.
    const count = function counted(): number {
      const self = counted as typeof counted & { calls?: number };
      self.calls = (self.calls ?? 0) + 1;
      return self.calls;
    };
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      assert.equal(await parallel.run([delayed(count)()]), [1]);
      assert.equal(await parallel.run([delayed(count)()]), [1], 'the second run starts from the snapshot');
      assert.equal(await parallel.run([delayed(count)(), delayed(count)()]), [1, 2]);
      // An arrow that captures nothing, built once: the same answers run after run.
      const plain = (x: number) => x * 3;
      for (let run = 0; run < 3; run++) assert.equal(await parallel.run([1, 2].map((x) => delayed(plain)(x))), [3, 6]);
    } finally {
      await parallel.close();
    }
  });
  test.run();
}

// ---- item 12: a task's error points at the user's file -------------------------------
const limit = 3;
const failing = (x: number) => {
  if (x > limit) throw new RangeError(`${x} is over ${limit}`);
  return x;
};
/** `file:///.../closureScopes.test.js:LINE:COLUMN` of the frame that threw, as this thread reports it. */
function whereItThrows(): string {
  try {
    failing(5);
  } catch (error) {
    return /\((file:[^)]+:\d+:\d+)\)/.exec((error as Error).stack!.split('\n')[1]!)![1]!;
  }
  throw new Error('failing(5) did not throw');
}
const thrownAt = whereItThrows();
const thisFile = fileURLToPath(import.meta.url);

for (const backend of BACKENDS) {
  const test = suite(`a task's stack points at the user's file, in a ${backend} worker`);
  test("TaskError.stack names this file, line and column, then where run() was called", async () => {
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      await parallel.run([delayed(failing)(5)]);
      assert.unreachable('the task should have thrown');
    } catch (error) {
      assert.instance(error, TaskError);
      const stack = (error as TaskError).stack!;
      const worker = stack.slice(stack.indexOf('--- in the worker ---'), stack.indexOf('--- run() called ---'));
      assert.ok(worker.includes(thrownAt), `worker frames ${worker} should name ${thrownAt}`);
      assert.not.ok(worker.includes('compileFunction'), worker);
      const called = stack.slice(stack.indexOf('--- run() called ---'));
      assert.ok(called.includes(thisFile), `the run() section should name ${thisFile}: ${called}`);
    } finally {
      await parallel.close();
    }
  });
  test("a settled entry's reason, a generator's failure and a settled generator's reason name where the run was awaited", async () => {
    const calledSection = (error: unknown) => {
      assert.instance(error, TaskError);
      const stack = (error as TaskError).stack!;
      assert.ok(stack.includes('--- run() called ---'), stack);
      const called = stack.slice(stack.indexOf('--- run() called ---'));
      assert.ok(called.includes(thisFile), `the run() section should name ${thisFile}: ${called}`);
      assert.not.ok(called.includes('node:internal/'), called);
      assert.is((error as TaskError).runStack !== undefined, true);
    };
    const parallel = new Parallel({ backend, nJobs: 1 });
    const generating = new Parallel({ backend, nJobs: 1, returnAs: 'generator' });
    try {
      const settled = await parallel.run([delayed(failing)(1), delayed(failing)(5)], { settle: true });
      assert.is(settled[1]!.status, 'rejected');
      calledSection(settled[1]!.status === 'rejected' ? settled[1]!.reason : undefined);
      const seen: number[] = [];
      try {
        for await (const value of generating.run([delayed(failing)(2), delayed(failing)(6)])) seen.push(value);
        assert.unreachable('the second task should have thrown');
      } catch (error) {
        calledSection(error);
      }
      assert.equal(seen, [2]);
      for await (const entry of generating.run([delayed(failing)(7)], { settle: true })) calledSection(entry.status === 'rejected' ? entry.reason : undefined);
      // Two runs awaited together: the section still names this file (V8's async stack through Promise.all).
      try {
        await Promise.all([parallel.run([delayed(failing)(8)]), parallel.run([delayed(failing)(1)])]);
        assert.unreachable('the first run should have failed');
      } catch (error) {
        calledSection(error);
      }
    } finally {
      await parallel.close();
      await generating.close();
    }
  });
  test.run();
}

const stackInVm = suite("a function rebuilt by 'closure' in a fresh vm context throws from the user's file");
stackInVm('same file, line and column as in this thread', () => {
  const rebuilt = inFreshContext(failing);
  try {
    rebuilt(5);
    assert.unreachable('it should have thrown');
  } catch (error) {
    assert.ok((error as Error).stack!.split('\n')[1]!.includes(thrownAt), (error as Error).stack);
  }
});
stackInVm.run();
