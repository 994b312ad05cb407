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
