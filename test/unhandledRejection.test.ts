/**
 * A promise a task leaves rejected with no handler is that task's failure, reported in the run in
 * which it happened: never lost, never blamed on another task or a later run. The worker stays.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, Parallel, TaskError, UnhandledRejectionError } from 'joblet';
import { rejects } from './helpers.js';

/** Task 5 leaves a rejected promise and returns: nothing awaits it. */
const leavesRejection = (i: number) => {
  if (i === 5) void Promise.reject(new Error('left by five'));
  return i;
};

/** Task 5 starts an async call that throws later, after the task returned. */
const leavesAsyncFailure = (i: number) => {
  if (i === 5) {
    void (async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error('thrown later by five');
    })();
  }
  return i;
};

for (const backend of ['threads', 'processes'] as const) {
  for (const batchSize of [1, 20] as const) {
    test(`${backend}, batchSize ${batchSize}: a rejection task 5 left fails the run naming task 5, and the next run is clean`, async () => {
      const parallel = new Parallel({ backend, nJobs: 2, batchSize });
      try {
        const tasks = Array.from({ length: 20 }, (_, i) => delayed(leavesRejection)(i));
        await rejects(parallel.run(tasks), (error) => {
          assert.instance(error, UnhandledRejectionError);
          assert.instance(error, TaskError);
          assert.is(error.taskIndex, 5);
          assert.is(error.within, true);
          assert.match(error.message, /^Task 5 left a promise that rejected with no handler: Error: left by five/);
          assert.match(error.stack, 'in the worker');
        });
        const clean = Array.from({ length: 20 }, (_, i) => delayed((x: number) => x * 2)(i));
        assert.equal(await parallel.run(clean), Array.from({ length: 20 }, (_, i) => i * 2), 'the next run is clean');
      } finally {
        await parallel.close();
      }
    });
  }

  test(`${backend}: a promise chain task 5 started rejects after it returned, while the run goes on: the run fails naming task 5`, async () => {
    const parallel = new Parallel({ backend, nJobs: 1, batchSize: 1 });
    try {
      // The later tasks wait long enough for the chain's 5 ms timer to fire while the run still goes.
      const slow = (i: number) => {
        leavesAsyncFailure(i);
        return new Promise((resolve) => setTimeout(() => resolve(i), i > 5 ? 20 : 0));
      };
      const tasks = Array.from({ length: 12 }, (_, i) => delayed(slow)(i));
      await rejects(parallel.run(tasks), (error) => {
        assert.instance(error, UnhandledRejectionError);
        assert.is(error.taskIndex, 5);
        assert.match(error.message, 'thrown later by five');
      });
      assert.equal(await parallel.run([delayed((x: number) => x + 1)(1)]), [2], 'the next run is clean');
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: the worker that reported the rejection stays: its globals survive`, async () => {
    const parallel = new Parallel({ backend, nJobs: 1, batchSize: 1 });
    try {
      const mark = () => ((globalThis as { mark?: number }).mark = 42);
      const read = () => (globalThis as { mark?: number }).mark;
      await parallel.run([delayed(mark)()]);
      // Task 5 is the last: no other batch is in flight to be cancelled (which stops its worker).
      await rejects(parallel.run(Array.from({ length: 6 }, (_, i) => delayed(leavesRejection)(i))), (error) => assert.is(error.taskIndex, 5));
      assert.equal(await parallel.run([delayed(read)()]), [42]);
    } finally {
      await parallel.close();
    }
  });
}

test('settled run: the task that left the rejection gets it as its entry, the others their values', async () => {
  const parallel = new Parallel({ nJobs: 2, batchSize: 4, settle: true });
  try {
    const entries = await parallel.run(Array.from({ length: 12 }, (_, i) => delayed(leavesRejection)(i)));
    for (const entry of entries) {
      if (entry.index === 5) {
        assert.is(entry.status, 'rejected');
        if (entry.status === 'rejected') assert.instance(entry.reason, UnhandledRejectionError);
      } else assert.equal(entry, { status: 'fulfilled', value: entry.index, index: entry.index });
    }
  } finally {
    await parallel.close();
  }
});

/**
 * Task 0 of the batch leaves work behind that rejects while task 1 of the same batch is running:
 * a timer's callback, or the rest of an async function after an await. Task 1 waits for that
 * (the event, not a clock) and one more turn of the loop, in which Node reports the rejection.
 */
const leaveBehind = {
  timer: () => {
    setTimeout(() => {
      void Promise.reject(new Error("made in task 0's timer"));
      (globalThis as { rejected?: () => void }).rejected!();
    }, 1);
  },
  continuation: () => {
    void (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      void Promise.reject(new Error("made after task 0's await"));
      (globalThis as { rejected?: () => void }).rejected!();
    })();
  },
};
const firstLeavesSecondWaits = (how: keyof typeof leaveBehind, i: number) => {
  const g = globalThis as { rejected?: () => void; madeRejection?: Promise<void> };
  if (i === 0) {
    g.madeRejection = new Promise((resolve) => (g.rejected = resolve));
    leaveBehind[how]();
    return i;
  }
  return g.madeRejection!.then(() => new Promise((resolve) => setImmediate(() => resolve(i))));
};

for (const backend of ['threads', 'processes'] as const) {
  for (const how of ['timer', 'continuation'] as const) {
    test(`${backend}, one batch: a rejection made in task 0's ${how} while task 1 runs is task 0's, not task 1's`, async () => {
      const parallel = new Parallel({ backend, nJobs: 1, batchSize: 3, settle: true });
      try {
        const tasks = [0, 1, 2].map((i) => delayed(firstLeavesSecondWaits)(how, i));
        const [zero, one, two] = await parallel.run(tasks);
        assert.is(zero!.status, 'rejected', 'task 0 left the rejection');
        if (zero!.status === 'rejected') {
          assert.instance(zero!.reason, UnhandledRejectionError);
          assert.is(zero!.reason.taskIndex, 0);
          assert.is((zero!.reason as UnhandledRejectionError).within, false, 'made after task 0 returned');
          assert.match(zero!.reason.message, how === 'timer' ? "made in task 0's timer" : "made after task 0's await");
        }
        assert.equal(one, { status: 'fulfilled', value: 1, index: 1 }, 'task 1, running when it was made, is not blamed');
        assert.equal(two, { status: 'fulfilled', value: 2, index: 2 });
      } finally {
        await parallel.close();
      }
    });
  }
}

test.run();
