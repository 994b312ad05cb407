/**
 * Runs that go on past failures (`settle: true`): every task yields its value or its own error as a
 * `Promise.allSettled`-shaped entry with its index, the run finishes, and only an abort stops it.
 * The default (the first failure rejects the run) is unchanged.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, Parallel, SerializationError, TaskError, TimeoutError, WorkerCrashedError, type Progress, type ReturnAs, type Settled } from 'joblet';
import { BACKENDS, rejects } from './helpers.js';

/** Throws for every fifth task (3, 8, 13, ...), returns twice its input otherwise. */
const failsSome = (x: number) => {
  if (x % 5 === 3) throw new Error(`bad ${x}`);
  return x * 2;
};

/** The entries' indices are 0..n-1 and each entry is what failsSome says for its index. */
function checkMixed(entries: Settled<number>[], n: number): void {
  assert.is(entries.length, n);
  for (const [position, entry] of entries.entries()) {
    const i = entry.index;
    if (i % 5 === 3) {
      assert.is(entry.status, 'rejected', `task ${i}`);
      if (entry.status === 'rejected') {
        assert.instance(entry.reason, TaskError);
        assert.is(entry.reason.taskIndex, i);
        assert.match(entry.reason.message, `bad ${i}`);
      }
    } else {
      assert.equal(entry, { status: 'fulfilled', value: i * 2, index: i }, `task ${i} at ${position}`);
    }
  }
  assert.equal(entries.map((e) => e.index).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
}

async function collect<T>(generator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of generator) out.push(item);
  return out;
}

for (const backend of BACKENDS) {
  const test = suite(`settled runs, on ${backend}`);
  const isolated = backend !== 'inline';

  test('mixed throws and successes: every task has its entry, in submission order, each error naming its task', async () => {
    const parallel = new Parallel({ backend, nJobs: 2, settle: true });
    try {
      const entries = await parallel.map(failsSome, Array.from({ length: 40 }, (_, i) => i));
      checkMixed(entries, 40);
      assert.equal(entries.map((e) => e.index), Array.from({ length: 40 }, (_, i) => i));
      // The types follow the option: a fulfilled entry's value is a number.
      const first = entries[0]!;
      assert.is(first.status === 'fulfilled' ? first.value.toFixed(0) : 'no', '0');
    } finally {
      await parallel.close();
    }
  });

  test("the three returnAs modes: 'generator' in submission order, 'generator_unordered' each with its index", async () => {
    for (const returnAs of ['array', 'generator', 'generator_unordered'] as const satisfies readonly ReturnAs[]) {
      const parallel = new Parallel({ backend, nJobs: 2, returnAs, settle: true });
      try {
        const tasks = Array.from({ length: 30 }, (_, i) => delayed(failsSome)(i));
        const result = parallel.run(tasks);
        const entries = (Symbol.asyncIterator in result ? await collect(result) : await result) as Settled<number>[];
        checkMixed(entries, 30);
        if (returnAs !== 'generator_unordered') assert.equal(entries.map((e) => e.index), Array.from({ length: 30 }, (_, i) => i), returnAs);
      } finally {
        await parallel.close();
      }
    }
  });

  test('per call: run(tasks, { settle: true }) on a default Parallel, and { settle: false } overriding the Parallel', async () => {
    const plain = new Parallel({ backend, nJobs: 2 });
    const settling = new Parallel({ backend, nJobs: 2, returnAs: 'generator', settle: true });
    try {
      const tasks = () => Array.from({ length: 10 }, (_, i) => delayed(failsSome)(i));
      const entries: Settled<number>[] = await plain.run(tasks(), { settle: true });
      checkMixed(entries, 10);
      const mapped: Settled<number>[] = await plain.map(failsSome, [3, 4], { settle: true });
      assert.equal(mapped.map((e) => e.status), ['rejected', 'fulfilled']);
      // The Parallel settles, this call does not: the first failure rejects it, as joblib does.
      await rejects(collect(settling.run(tasks(), { settle: false })), (error) => {
        assert.instance(error, TaskError);
        assert.is(error.taskIndex, 3);
      });
      checkMixed(await collect(settling.run(tasks())), 10);
    } finally {
      await plain.close();
      await settling.close();
    }
  });

  test('the default is unchanged: the first failure rejects the run', async () => {
    const parallel = new Parallel({ backend, nJobs: 2 });
    try {
      await rejects(parallel.map(failsSome, [0, 1, 2, 3, 4]), (error) => {
        assert.instance(error, TaskError);
        assert.is(error.taskIndex, 3);
      });
      assert.equal(await parallel.map(failsSome, [0, 1]), [0, 2]);
    } finally {
      await parallel.close();
    }
  });

  test('a task whose argument cannot travel is that task\'s SerializationError entry; the others run', async () => {
    const parallel = new Parallel({ backend, nJobs: 2, settle: true });
    try {
      const bad = Object.defineProperty({}, 'x', {
        enumerable: true,
        get: () => {
          throw new Error('getter boom');
        },
      });
      const size = (value: object) => Object.keys(value).length;
      const items: object[] = [{ a: 1 }, {}, bad, { a: 1, b: 2 }, bad, { c: 3 }];
      const entries = await parallel.map(size, items);
      assert.equal(entries.map((e) => e.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
      assert.equal(entries.map((e) => (e.status === 'fulfilled' ? e.value : undefined)), [1, 0, undefined, 2, undefined, 1]);
      for (const index of [2, 4]) {
        const entry = entries[index]!;
        assert.ok(entry.status === 'rejected' && entry.reason instanceof SerializationError, `task ${index}`);
        assert.is(entry.status === 'rejected' && entry.reason.taskIndex, index);
      }
    } finally {
      await parallel.close();
    }
  });

  test('onProgress counts the failed tasks and the run goes on to the end', async () => {
    const seen: Progress[] = [];
    const parallel = new Parallel({ backend, nJobs: 2, settle: true, onProgress: (p) => seen.push({ ...p }) });
    try {
      const entries = await parallel.map(failsSome, Array.from({ length: 25 }, (_, i) => i));
      checkMixed(entries, 25);
      const last = seen.at(-1)!;
      assert.is(last.done, 25);
      assert.is(last.total, 25);
      assert.is(last.failed, 5);
    } finally {
      await parallel.close();
    }
  });

  test('an abort still rejects the whole run', async () => {
    const parallel = new Parallel({ backend, nJobs: 2, settle: true });
    const controller = new AbortController();
    try {
      const wait = (x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), 20));
      const run = parallel.map(wait, Array.from({ length: 200 }, (_, i) => i), { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('stop here')), 50);
      await rejects(run, (error) => assert.is(error.message, 'stop here'));
    } finally {
      await parallel.close();
    }
  });

  if (isolated) {
    test('a task that calls process.exit is its WorkerCrashedError entry; the worker is replaced and the rest run', async () => {
      const exitsAt = (x: number) => (x === 6 ? process.exit(3) : x);
      const parallel = new Parallel({ backend, nJobs: 2, batchSize: 1, settle: true });
      try {
        const entries = await parallel.map(exitsAt, Array.from({ length: 12 }, (_, i) => i));
        assert.is(entries.length, 12);
        for (const entry of entries) {
          if (entry.index === 6) {
            assert.is(entry.status, 'rejected');
            if (entry.status === 'rejected') {
              assert.instance(entry.reason, WorkerCrashedError);
              assert.equal((entry.reason as WorkerCrashedError).taskIndices, [6]);
              assert.is((entry.reason as WorkerCrashedError).exitCode, 3);
            }
          } else assert.equal(entry, { status: 'fulfilled', value: entry.index, index: entry.index });
        }
        // The pool is still usable.
        assert.equal(await parallel.map(exitsAt, [1, 2]), [
          { status: 'fulfilled', value: 1, index: 0 },
          { status: 'fulfilled', value: 2, index: 1 },
        ]);
      } finally {
        await parallel.close();
      }
    });

    test('a crash inside a batch names the task that crashed; those that finished before it are reported lost, those not started run on another worker', async () => {
      // Batches of 4: [0-3], [4-7], [8-11]. Task 6 exits: 4 and 5 had finished, 7 had not started.
      const exitsAt = (x: number) => (x === 6 ? process.exit(1) : x);
      const seen: Progress[] = [];
      const parallel = new Parallel({ backend, nJobs: 1, batchSize: 4, returnAs: 'generator_unordered', settle: true, onProgress: (p) => seen.push({ ...p }) });
      try {
        const entries = await collect(parallel.map(exitsAt, Array.from({ length: 12 }, (_, i) => i)));
        assert.is(entries.length, 12);
        const rejected = entries.filter((e) => e.status === 'rejected').map((e) => e.index).sort((a, b) => a - b);
        assert.equal(rejected, [4, 5, 6], 'task 7 had not started: it ran on the replacement worker');
        for (const entry of entries) {
          if (entry.status === 'rejected') {
            const reason = entry.reason as WorkerCrashedError;
            assert.instance(reason, WorkerCrashedError);
            assert.equal(reason.taskIndices, [6], 'the task that crashed');
            assert.equal(reason.resultsLost, [4, 5]);
            assert.equal(reason.notStarted, [7]);
            assert.match(reason.message, 'while running task 6');
            assert.match(reason.message, 'tasks 4, 5 had finished, but their results were lost with the worker');
          } else assert.is(entry.value, entry.index);
        }
        const last = seen.at(-1)!;
        assert.is(last.done, 12);
        assert.is(last.failed, 3);
      } finally {
        await parallel.close();
      }
    });

    test('a crash in the first task of a batch: the others of the batch run on another worker', async () => {
      const exitsAt = (x: number) => (x === 4 ? process.exit(1) : x);
      const parallel = new Parallel({ backend, nJobs: 1, batchSize: 4, settle: true });
      try {
        const entries = await parallel.map(exitsAt, Array.from({ length: 8 }, (_, i) => i));
        for (const entry of entries) {
          if (entry.index !== 4) assert.equal(entry, { status: 'fulfilled', value: entry.index, index: entry.index });
          else {
            assert.is(entry.status, 'rejected');
            const reason = (entry as { reason: WorkerCrashedError }).reason;
            assert.equal([reason.taskIndices, reason.resultsLost, reason.notStarted], [[4], [], [5, 6, 7]]);
          }
        }
      } finally {
        await parallel.close();
      }
    });

    test('without settle, the crash names the task that crashed and what became of the rest of its batch', async () => {
      const exitsAt = (x: number) => (x === 6 ? process.exit(1) : x);
      const parallel = new Parallel({ backend, nJobs: 1, batchSize: 4 });
      try {
        await rejects(parallel.map(exitsAt, Array.from({ length: 8 }, (_, i) => i)), (error) => {
          assert.instance(error, WorkerCrashedError);
          assert.is(error.taskIndex, 6);
          assert.match(error.message, 'while running task 6');
          assert.match(error.message, 'task 7 had not started');
        });
      } finally {
        await parallel.close();
      }
    });

    test("a task over its timeout is its TimeoutError entry; its worker is replaced and the others finish", async () => {
      // The quick tasks have seconds to spare on a loaded machine; the slow one never ends.
      const hangsAt = (x: number) => (x === 2 ? new Promise<number>(() => {}) : x * 10);
      const parallel = new Parallel({ backend, nJobs: 2, timeout: 3_000, returnAs: 'generator', settle: true });
      try {
        const entries = await collect(parallel.map(hangsAt, [0, 1, 2, 3, 4]));
        assert.equal(entries.map((e) => e.index), [0, 1, 2, 3, 4]);
        const timedOut = entries[2]!;
        assert.ok(timedOut.status === 'rejected' && timedOut.reason instanceof TimeoutError);
        assert.is(timedOut.status === 'rejected' && timedOut.reason.taskIndex, 2);
        assert.equal(entries.filter((e) => e.index !== 2).map((e) => (e.status === 'fulfilled' ? e.value : e.reason)), [0, 10, 30, 40]);
      } finally {
        await parallel.close();
      }
    });
  }

  test.run();
}
