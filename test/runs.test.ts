/**
 * What a run gives back, on every backend (DESIGN principle 5): results in submission order,
 * async tasks awaited, map() over any iterable, one pool serving consecutive runs.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { delayed, TaskError } from 'joblet';
import { BACKENDS, rejects, tempDir, withParallel } from './helpers.js';
import { doubleAsync, slowEcho, square, whereAmI } from './tasks.js';

for (const backend of BACKENDS) {
  const test = suite(`a run's results, on ${backend}`);
  const isolated = backend !== 'inline';

  test('results come back in submission order, whatever order the tasks finish in', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      const delays = [60, 5, 30, 1, 15];
      const out = await parallel.run(delays.map((ms, i) => delayed(slowEcho)(i, ms)));
      assert.equal(out, [0, 1, 2, 3, 4]);
      assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(square)(x))), [1, 4, 9]);
    });
  });

  if (isolated) {
    test('a slow first task does not hold back the others, because array mode keeps dispatching', async () => {
      const dir = tempDir();
      const file = join(dir.path, 'marks');
      try {
        // Task 0 waits (up to 5 s) until three other tasks have left their mark, and reports how many it saw.
        const waitForOthers = async (path: string) => {
          const fs = await import('node:fs');
          for (let i = 0; i < 500; i++) {
            const marks = fs.existsSync(path) ? fs.readFileSync(path, 'utf8').length : 0;
            if (marks >= 3) return marks;
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          return -1;
        };
        const mark = async (path: string) => (await import('node:fs')).appendFileSync(path, '.');
        await withParallel({ backend, nJobs: 2, preDispatch: 2 }, async (narrow) => {
          const out = await narrow.run([delayed(waitForOthers)(file), ...[1, 2, 3, 4].map(() => delayed(mark)(file))]);
          assert.ok((out[0] as number) >= 3, 'task 0 waited in vain: the other worker stopped receiving tasks');
        });
      } finally {
        dir.remove();
      }
    });
  }

  test('an empty input gives an empty array, or an empty generator', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      assert.equal(await parallel.run([]), []);
    });
    await withParallel({ backend, returnAs: 'generator' }, async (gen) => {
      const seen: unknown[] = [];
      for await (const value of gen.run([])) seen.push(value);
      assert.equal(seen, []);
    });
  });

  test('async task functions are awaited in the worker', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(doubleAsync)(x))), [2, 4, 6]);
    });
  });

  test('map() is a shorthand that takes any iterable, async ones too', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      assert.equal(await parallel.map(square, new Set([2, 3])), [4, 9]);
      async function* numbers() {
        yield 4;
        yield 5;
      }
      assert.equal(await parallel.map(square, numbers()), [16, 25]);
    });
  });

  test('map() over an Array (read by index, no task per item) keeps order, names a failing item, settles, streams', async () => {
    const failAt7 = (x: number) => {
      if (x === 7) throw new RangeError('seven');
      return x * 2;
    };
    const items = Array.from({ length: 20 }, (_, i) => i);
    await withParallel({ backend, nJobs: 2, batchSize: 3 }, async (parallel) => {
      assert.equal(await parallel.map(square, items), items.map((x) => x * x));
      await rejects(parallel.map(failAt7, items), (error) => {
        assert.instance(error, TaskError);
        assert.is(error.taskIndex, 7);
        assert.is(error.originalName, 'RangeError');
      });
      const settled = await parallel.map(failAt7, items, { settle: true });
      assert.equal(settled.map((entry) => entry.status), items.map((x) => (x === 7 ? 'rejected' : 'fulfilled')));
      assert.equal(settled[3], { status: 'fulfilled', value: 6, index: 3 });
      // Not a function: refused as delayed() refuses it, the run rejecting rather than throwing.
      await rejects(parallel.map(42 as unknown as (x: number) => number, items), (error) => assert.match(error.message, /delayed\(\) expects a function/));
    });
    await withParallel({ backend, nJobs: 2, batchSize: 4, returnAs: 'generator' }, async (parallel) => {
      const seen: number[] = [];
      for await (const value of parallel.map(square, items)) seen.push(value);
      assert.equal(seen, items.map((x) => x * x));
    });
  });

  test("map() over an Array takes a batch's items in one copy: each item read once, objects among them still scanned, holes as the iterator reads them, a subclass or proxy as it is", async () => {
    const echo = (x: unknown) => x;
    await withParallel({ backend, nJobs: 2, batchSize: 50 }, async (parallel) => {
      // Primitives of every kind, objects and a hole among them: what comes back is what the iterator gives.
      const mixed: unknown[] = Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? { i } : i % 11 === 0 ? `s${i}` : i % 13 === 0 ? null : i));
      delete mixed[150];
      assert.equal(await parallel.map(echo, mixed), [...mixed]);
      // An item behind a getter is read once, as iterating the array reads it.
      let reads = 0;
      const withGetter = Array.from({ length: 200 }, (_, i) => i);
      Object.defineProperty(withGetter, 120, { get: () => (reads++, -1), enumerable: true });
      assert.equal(await parallel.map(echo, withGetter), [...Array.from({ length: 120 }, (_, i) => i), -1, ...Array.from({ length: 79 }, (_, i) => i + 121)]);
      assert.is(reads, 1, 'the getter ran once');
      // A subclass's species is never asked for (no slice of it), and a proxy's reads are one per item.
      let species = 0;
      class Tracked extends Array<number> {
        static override get [Symbol.species]() {
          species++;
          return Array;
        }
      }
      const tracked = Tracked.from({ length: 200 }, (_, i) => i) as Tracked;
      species = 0;
      assert.equal(await parallel.map(echo, tracked), Array.from({ length: 200 }, (_, i) => i));
      assert.is(species, 0);
      const got: PropertyKey[] = [];
      const proxied = new Proxy(Array.from({ length: 200 }, (_, i) => i), { get: (target, key, receiver) => (got.push(key), Reflect.get(target, key, receiver)) });
      assert.equal(await parallel.map(echo, proxied), Array.from({ length: 200 }, (_, i) => i));
      const indexReads = got.filter((key) => typeof key === 'string' && /^\d+$/.test(key));
      assert.is(indexReads.length, 200, 'each index read once');
      assert.not.ok(got.includes('constructor'), 'no slice of the proxy');
    });
  });

  test("a task carries exactly the arguments it was made with: how many (none, one undefined, several), and its args array as the caller left it", async () => {
    function count(this: unknown, ...given: unknown[]) {
      return [given.length, ...given];
    }
    const read = delayed(count)(1);
    // The array a caller reads is the one sent: what it writes there is what the task gets.
    (read.args as unknown[])[0] = 'changed';
    (read.args as unknown[]).push('added');
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      const out = await parallel.run([delayed(count)(), delayed(count)(undefined), delayed(count)(1, 2), delayed(count)({ a: [1] }), read, ...[5, 6].map((x) => delayed(count)(x))]);
      assert.equal(out, [[0], [1, undefined], [2, 1, 2], [1, { a: [1] }], [2, 'changed', 'added'], [1, 5], [1, 6]]);
    });
    assert.equal(delayed(count)(7).args, [7]);
  });

  test("run() over an Array takes a batch's tasks in one copy: tasks of another function, with several arguments, objects, a read args array, or a non-task among them keep their own way", async () => {
    const twice = (x: unknown) => [x, x];
    const other = (x: unknown) => ['other', x];
    const pair = (a: unknown, b: unknown) => [a, b];
    await withParallel({ backend, nJobs: 2, batchSize: 40 }, async (parallel) => {
      const tasks = Array.from({ length: 300 }, (_, i) => {
        if (i % 37 === 5) return delayed(other)(i);
        if (i % 41 === 7) return delayed(pair)(i, -i);
        if (i % 43 === 9) return delayed(twice)({ i });
        return delayed(twice)(i);
      });
      const read = tasks[100]!;
      (read.args as unknown[])[0] = 'read and changed';
      const expected = tasks.map((task) => (task.fn as (...a: unknown[]) => unknown)(...task.args));
      assert.equal(await parallel.run(tasks), expected);
      // A proxy of the same tasks: each index read once, no slice of it.
      const got: PropertyKey[] = [];
      const proxied = new Proxy(tasks, { get: (target, key, receiver) => (got.push(key), Reflect.get(target, key, receiver)) });
      assert.equal(await parallel.run(proxied), expected);
      assert.is(got.filter((key) => typeof key === 'string' && /^\d+$/.test(key)).length, 300);
      // Something that is not a task, deep in a batch: the run names its index.
      const broken: unknown[] = tasks.slice();
      broken[150] = 42;
      await rejects(parallel.run(broken as typeof tasks), (error) => assert.match(error.message, /item 150 is/));
    });
  });

  test('consecutive runs reuse the same workers', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      const first = new Set(await parallel.run([1, 2, 3, 4].map(() => delayed(whereAmI)())));
      const second = new Set(await parallel.run([1, 2, 3, 4].map(() => delayed(whereAmI)())));
      for (const id of second) assert.ok(first.has(id), `run 2 used a new worker ${id}`);
      if (isolated) assert.not.ok(first.has(await whereAmI()), 'tasks ran in the main thread');
    });
  });

  test.run();
}
