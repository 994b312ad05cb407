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
    // A bound of seconds for the quick task (a loaded machine may delay it); the other waits 30 s.
    await withParallel({ backend, nJobs: 2, timeout: 5_000 }, async (timed) => {
      await rejects(timed.run([delayed(slowEcho)(0, 1), delayed(markAndWait)(1, '/dev/null', 30_000)]), (error) => {
        assert.instance(error, TimeoutError);
        assert.is(error.taskIndex, 1);
        assert.match(error.message, 'Task 1');
      });
      assert.equal(await timed.run([delayed(square)(3)]), [9]);
    });
  });

  if (isolated) {
    test("a timeout counts from the task's start, not from its submission or the worker's start-up", async () => {
      // One worker, four tasks of 1 s submitted at once, a timeout of 3 s: counted from submission
      // (or from a fresh worker's start-up) the last would time out at 3 s of its 4; counted from
      // its start each has 2 s to spare, a margin a loaded machine keeps.
      await withParallel({ backend, nJobs: 1, timeout: 3_000 }, async (fresh) => {
        const wait = (x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), 1_000));
        assert.equal(await fresh.run([1, 2, 3, 4].map((x) => delayed(wait)(x))), [1, 2, 3, 4]);
      });
    });

    test('a per-task timeout times each task, whatever batchSize says', async () => {
      // 20 tasks of 100 ms with batchSize 20: one batch would take 2 s, over the 1 s timeout;
      // each task alone has 900 ms to spare.
      await withParallel({ backend, nJobs: 2, timeout: 1_000, batchSize: 20 }, async (timed) => {
        const shortWait = (x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), 100));
        const out = await timed.run(Array.from({ length: 20 }, (_, i) => delayed(shortWait)(i)));
        assert.is(out.length, 20);
      });
    });
  }

  test.run();
}
