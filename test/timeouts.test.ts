/**
 * A per-task timeout, on every backend: a task over it fails with a TimeoutError naming it, and the
 * clock runs per task from its start, not from a worker's start-up or a batch's.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, TimeoutError } from 'joblet';
import { BACKENDS, rejects, withParallel } from './helpers.js';
import { markAndWait, slowEcho, square } from './tasks.js';

for (const backend of BACKENDS) {
  const test = suite(`timeouts, on ${backend}`);
  const isolated = backend !== 'inline';

  test('a task over its timeout fails with a TimeoutError naming its index, and the pool carries on', async () => {
    await withParallel({ backend, nJobs: 2, timeout: 300 }, async (timed) => {
      await rejects(timed.run([delayed(slowEcho)(0, 1), delayed(markAndWait)(1, '/dev/null', 30_000)]), (error) => {
        assert.instance(error, TimeoutError);
        assert.is(error.taskIndex, 1);
        assert.match(error.message, 'Task 1');
      });
      assert.equal(await timed.run([delayed(square)(3)]), [9]);
    });
  });

  if (isolated) {
    test("a timeout counts from the task's start, not from the worker's start-up", async () => {
      // A fresh pool: starting the worker takes longer than this timeout, the task itself far less.
      await withParallel({ backend, nJobs: 2, timeout: 60 }, async (fresh) => {
        assert.equal(await fresh.run([1, 2].map((x) => delayed(square)(x))), [1, 4]);
      });
    });

    test('a per-task timeout times each task, whatever batchSize says', async () => {
      await withParallel({ backend, nJobs: 2, timeout: 150, batchSize: 20 }, async (timed) => {
        const shortWait = (x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), 10));
        const out = await timed.run(Array.from({ length: 60 }, (_, i) => delayed(shortWait)(i)));
        assert.is(out.length, 60);
      });
    });
  }

  test.run();
}
