/**
 * A worker that dies, on the isolated backends (inline has no worker to lose): the error names the
 * tasks it took down, the worker is replaced, and other runs on the same Parallel carry on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, WorkerCrashedError } from 'joblet';
import { BACKENDS, rejects, withParallel } from './helpers.js';
import { square } from './tasks.js';

for (const backend of BACKENDS.filter((name) => name !== 'inline')) {
  const test = suite(`worker crashes, on ${backend}`);

  test('two runs share one Parallel: a crash in one does not strand the other, and a new snapshot does not unsettle it', async () => {
    await withParallel({ backend, nJobs: 1 }, async (shared) => {
      const exitsAt = (x: number) => (x === 50 ? process.exit(3) : x);
      const plusOne = (x: number) => x + 1;
      const [a, b] = await Promise.allSettled([
        shared.run(Array.from({ length: 300 }, (_, i) => delayed(exitsAt)(i))),
        shared.run(Array.from({ length: 3000 }, (_, i) => delayed(plusOne)(i))),
      ]);
      assert.is(a.status, 'rejected');
      assert.equal(b.status === 'fulfilled' && b.value.length, 3000);
      // A closure whose capture changes while an earlier run still uses the old snapshot.
      let k = 1;
      const addK = async (x: number) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return x + k;
      };
      const slow = shared.run(Array.from({ length: 300 }, (_, i) => delayed(addK)(i)));
      await new Promise((resolve) => setTimeout(resolve, 20));
      k = 100;
      assert.equal(await shared.run([delayed(addK)(0)]), [100]);
      const first = await slow;
      assert.is(first[299], 300);
    });
  });

  test('a crash inside a batch names the task that crashed, the tasks of its batch that had finished and those that had not started', async () => {
    await withParallel({ backend, nJobs: 1, batchSize: 4 }, async (batched) => {
      const exitsAt = (x: number) => (x === 6 ? process.exit(1) : x);
      await rejects(batched.run(Array.from({ length: 8 }, (_, i) => delayed(exitsAt)(i))), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.equal([error.taskIndices, error.resultsLost, error.notStarted], [[6], [4, 5], [7]]);
      });
    });
  });

  test("an exception thrown by task 1's timer while task 2 runs: the crash says task 1 threw it", async () => {
    await withParallel({ backend, nJobs: 1, batchSize: 4 }, async (batched) => {
      // Task 1 leaves a timer that throws; task 2 never ends, so it is running when the timer fires.
      const leavesThrowingTimer = (x: number) => {
        if (x === 1) setTimeout(() => { throw new Error('thrown by the timer of task 1'); }, 1);
        return x === 2 ? new Promise(() => {}) : x;
      };
      await rejects(batched.run(Array.from({ length: 4 }, (_, i) => delayed(leavesThrowingTimer)(i))), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.is(error.thrownBy, 1);
        assert.equal([error.taskIndices, error.resultsLost, error.notStarted], [[2], [0, 1], [3]]);
        assert.match(error.message, 'thrown by the timer of task 1');
        assert.match(error.message, 'The exception was thrown by a callback task 1 scheduled (a timer, an immediate or a tick), not by task 2, running then');
      });
    });
  });

  if (backend === 'processes') {
    test('a child killed by a signal cannot say where it was: the crash names every task of its batch', async () => {
      await withParallel({ backend, nJobs: 1, batchSize: 4 }, async (batched) => {
        const killedAt = (x: number) => (x === 6 ? process.kill(process.pid, 'SIGKILL') : x);
        await rejects(batched.run(Array.from({ length: 8 }, (_, i) => delayed(killedAt)(i))), (error) => {
          assert.instance(error, WorkerCrashedError);
          assert.is(error.signal, 'SIGKILL');
          assert.equal([error.taskIndices, error.resultsLost, error.notStarted], [[4, 5, 6, 7], [], []]);
        });
      });
    });
  }

  test('a worker that calls process.exit(1) fails its task with a WorkerCrashedError, and is replaced', async () => {
    const exits = (x: number) => {
      if (x === 1) process.exit(1);
      return x;
    };
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([0, 1].map((x) => delayed(exits)(x))), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.is(error.exitCode, 1);
        assert.equal(error.taskIndices, [1]);
        assert.match(error.message, 'task 1');
      });
      assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(square)(x))), [1, 4, 9]);
    });
  });

  test('a worker that throws from a setTimeout crashes with the reason, and is replaced', async () => {
    const throwsLater = () =>
      new Promise(() => {
        setTimeout(() => {
          throw new Error('late failure');
        }, 5);
      });
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([delayed(throwsLater)()]), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.match(error.message, 'late failure');
      });
      assert.equal(await parallel.run([delayed(square)(4)]), [16]);
    });
  });

  test.run();
}
