/**
 * The same behaviour on every backend (DESIGN principle 5): each test runs
 * on threads, processes and inline, with real workers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Parallel, delayed, TaskError, TimeoutError, WorkerCrashedError, SerializationError, JobletError } from 'joblet';
import { BACKENDS, rejects, sleep, tempDir } from './helpers.js';

// Task functions travel as source: they use only their arguments and globals.
const square = (x: number) => x * x;
const slowEcho = (x: number, ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), ms));
const doubleAsync = async (x: number) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return x * 2;
};
const whereAmI = async () => {
  const { threadId } = await import('node:worker_threads');
  return `${process.pid}:${threadId}`;
};
// Appends its index to a file, then waits (an unref'd timer, so an abandoned inline task cannot hold the test process).
const markAndWait = async (i: number, file: string, ms: number) => {
  const fs = await import('node:fs');
  fs.appendFileSync(file, `${i}\n`);
  await new Promise((resolve) => setTimeout(resolve, ms).unref());
  return i;
};

for (const backend of BACKENDS) {
  const test = suite(`behaviour on ${backend}`);
  const isolated = backend !== 'inline';
  let parallel: Parallel;
  test.before(() => {
    parallel = new Parallel({ backend, nJobs: 2 });
  });
  test.after(async () => {
    await parallel.close();
  });

  test('results come back in submission order, whatever order they finish in', async () => {
    const delays = [60, 5, 30, 1, 15];
    const out = await parallel.run(delays.map((ms, i) => delayed(slowEcho)(i, ms)));
    assert.equal(out, [0, 1, 2, 3, 4]);
    assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(square)(x))), [1, 4, 9]);
  });

  if (isolated) {
    test('a slow first task does not hold back the others (array mode keeps dispatching)', async () => {
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
        const narrow = new Parallel({ backend, nJobs: 2, preDispatch: 2 });
        const out = await narrow.run([delayed(waitForOthers)(file), ...[1, 2, 3, 4].map(() => delayed(mark)(file))]);
        assert.ok((out[0] as number) >= 3, 'task 0 waited in vain: the other worker stopped receiving tasks');
        await narrow.close();
      } finally {
        dir.remove();
      }
    });
  }

  test('empty input gives an empty array, and an empty generator', async () => {
    assert.equal(await parallel.run([]), []);
    const gen = new Parallel({ backend, returnAs: 'generator' });
    const seen: unknown[] = [];
    for await (const value of gen.run([])) seen.push(value);
    assert.equal(seen, []);
    await gen.close();
  });

  test('async task functions are awaited in the worker', async () => {
    assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(doubleAsync)(x))), [2, 4, 6]);
  });

  test("returnAs 'generator' yields in submission order", async () => {
    const gen = new Parallel({ backend, nJobs: 2, returnAs: 'generator' });
    const seen: number[] = [];
    for await (const value of gen.run([40, 1, 20, 1].map((ms, i) => delayed(slowEcho)(i, ms)))) seen.push(value);
    assert.equal(seen, [0, 1, 2, 3]);
    await gen.close();
  });

  test("returnAs 'generator_unordered' yields in completion order", async () => {
    const gen = new Parallel({ backend, nJobs: 2, returnAs: 'generator_unordered' });
    const seen: number[] = [];
    for await (const value of gen.run([300, 1, 1, 1].map((ms, i) => delayed(slowEcho)(i, ms)))) seen.push(value);
    assert.equal([...seen].sort(), [0, 1, 2, 3]);
    // Inline runs one task at a time, so there completion order is submission order.
    if (isolated) assert.is(seen[seen.length - 1], 0, `the slow task 0 should come last, got ${seen}`);
    else assert.equal(seen, [0, 1, 2, 3]);
    await gen.close();
  });

  test('leaving a generator loop early stops pulling from an endless input', async () => {
    // One task per batch, for an exact bound: preDispatch counts batches.
    const gen = new Parallel({ backend, nJobs: 2, returnAs: 'generator', preDispatch: 2, batchSize: 1 });
    let pulled = 0;
    let finished = false;
    function* endless() {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield delayed(square)(i);
        }
      } finally {
        finished = true;
      }
    }
    const seen: number[] = [];
    for await (const value of gen.run(endless())) {
      seen.push(value);
      if (seen.length === 5) break;
    }
    assert.equal(seen, [0, 1, 4, 9, 16]);
    assert.ok(pulled <= 5 + 2, `pulled ${pulled} tasks for 5 results with preDispatch 2`);
    assert.ok(finished, "the input generator's finally block ran");
    await gen.close();
  });

  test('batches keep results in order and attribute an error to its own task', async () => {
    const n = 3000;
    const plusOne = (x: number) => x + 1;
    assert.equal(await parallel.run(Array.from({ length: n }, (_, i) => delayed(plusOne)(i))), Array.from({ length: n }, (_, i) => i + 1));
    const failsAt = (x: number) => {
      if (x === 1234) throw new RangeError(`bad ${x}`);
      return x;
    };
    await rejects(parallel.run(Array.from({ length: n }, (_, i) => delayed(failsAt)(i))), (error) => {
      assert.instance(error, TaskError);
      assert.is(error.taskIndex, 1234);
      assert.is(error.originalMessage, 'bad 1234');
    });
    const fixed = new Parallel({ backend, nJobs: 2, batchSize: 7 });
    assert.equal(await fixed.run([9, 1, 5, 1, 3, 1, 8, 2].map((ms, i) => delayed(slowEcho)(i, ms))), [0, 1, 2, 3, 4, 5, 6, 7]);
    await fixed.close();
  });

  test('in a packed batch, an argument or a result that cannot travel is still blamed on its own task', async () => {
    const structured = new Parallel({ backend, nJobs: 2, serializer: 'structured', batchSize: 50 });
    const identity = (x: unknown) => x;
    const args = Array.from({ length: 100 }, (_, i) => (i === 57 ? { onItem: () => i } : i));
    await rejects(structured.run(args.map((a) => delayed(identity)(a))), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-task');
      assert.is(error.taskIndex, 57);
      assert.is(error.path, 'args[0].onItem');
    });
    const returnsFunctionAt42 = (i: number) => (i === 42 ? () => i : i);
    await rejects(structured.run(Array.from({ length: 100 }, (_, i) => delayed(returnsFunctionAt42)(i))), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-result');
      assert.is(error.taskIndex, 42);
    });
    await structured.close();
  });

  test('with batches, the window of tasks taken ahead still bounds an endless input', async () => {
    const gen = new Parallel({ backend, nJobs: 2, returnAs: 'generator_unordered', preDispatch: 2 });
    let pulled = 0;
    function* endless() {
      for (let i = 0; ; i++) {
        pulled++;
        yield delayed(square)(i);
      }
    }
    let seen = 0;
    for await (const _ of gen.run(endless())) if (++seen === 20_000) break;
    // 2 batches ahead of the consumer, each at most 10,000 tasks: the input is never drained.
    assert.ok(pulled < 20_000 + 2 * 10_000 + 1, `pulled ${pulled} tasks for 20,000 results`);
    await gen.close();
  });

  test('map() is a shorthand over any iterable, async ones too', async () => {
    assert.equal(await parallel.map(square, new Set([2, 3])), [4, 9]);
    async function* numbers() {
      yield 4;
      yield 5;
    }
    assert.equal(await parallel.map(square, numbers()), [16, 25]);
  });

  test('a thrown Error subclass keeps its name, message, stack, custom properties and index', async () => {
    const validate = (x: number) => {
      class ValidationError extends Error {
        code = 'E_RANGE';
        constructor(message: string) {
          super(message);
          this.name = 'ValidationError';
        }
      }
      if (x > 1) throw new ValidationError(`x too large: ${x}`);
      return x;
    };
    await rejects(parallel.run([0, 1, 2].map((x) => delayed(validate)(x))), (error) => {
      assert.instance(error, TaskError);
      assert.instance(error, JobletError);
      assert.is(error.taskIndex, 2);
      assert.is(error.originalName, 'ValidationError');
      assert.is(error.originalMessage, 'x too large: 2');
      assert.is(error.properties.code, 'E_RANGE');
      assert.is(error.code, 'E_RANGE');
      assert.ok(error.isError);
      assert.match(error.workerStack, 'ValidationError: x too large: 2');
      assert.match(error.message, 'Task 2 threw ValidationError');
    });
  });

  test('custom properties the serializer cannot carry are dropped, and the error says so', async () => {
    const throwsWithCallback = () => {
      throw Object.assign(new Error('with a callback'), { retry: () => 1, code: 'E_CB' });
    };
    const structured = new Parallel({ backend, serializer: 'structured', nJobs: 1 });
    await rejects(structured.run([delayed(throwsWithCallback)()]), (error) => {
      assert.instance(error, TaskError);
      assert.is(error.originalMessage, 'with a callback');
      assert.equal(error.properties, {});
      assert.match(error.propertiesLost, "serializer 'structured' could not carry them");
    });
    await structured.close();
    // The default serializer carries them, functions included.
    await rejects(parallel.run([delayed(throwsWithCallback)()]), (error) => {
      assert.is(error.code, 'E_CB');
      assert.is(error.properties.retry(), 1);
      assert.is(error.propertiesLost, undefined);
    });
  });

  test('getters that throw, in a result or a thrown error, still give a clear error for that task', async () => {
    const resultWithBadGetter = () => Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw new Error('getter boom'); } });
    await rejects(parallel.run([delayed(square)(1), delayed(resultWithBadGetter)()]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-result');
      assert.is(error.taskIndex, 1);
      assert.match(error.message, 'getter boom');
    });
    const throwsWithBadGetter = () => {
      throw Object.defineProperty(new Error('task failed'), 'code', { enumerable: true, get: () => { throw new Error('code getter'); } });
    };
    await rejects(parallel.run([delayed(throwsWithBadGetter)()]), (error) => {
      assert.instance(error, TaskError);
      assert.is(error.originalMessage, 'task failed');
      assert.match(error.propertiesLost, 'reading `code` threw');
    });
    assert.equal(await parallel.run([delayed(square)(7)]), [49], 'the pool still serves');
  });

  // Plain data may travel as it is, cloned by the transport itself: what that clone would change is kept off that path.
  test('a Buffer stays a Buffer and a view over part of a buffer carries its bytes only, both ways', async () => {
    const probe = (b: Buffer, view: Float64Array) => ({
      isBuffer: Buffer.isBuffer(b),
      text: b.toString(),
      viewType: view.constructor.name,
      values: [...view],
      carried: view.buffer.byteLength,
      back: Buffer.from('back'),
      slice: new Float64Array(new ArrayBuffer(80_000), 8, 2),
    });
    for (const serializer of ['auto', 'structured']) {
      const p = new Parallel({ backend, nJobs: 1, serializer });
      try {
        const view = new Float64Array(new ArrayBuffer(80_000), 16, 3).fill(2.5);
        const [r] = await p.run([delayed(probe)(Buffer.from('ab'), view)]);
        assert.ok(r!.isBuffer, `${serializer}: the argument arrives as a Buffer`);
        assert.is(r!.text, 'ab');
        assert.is(r!.viewType, 'Float64Array');
        assert.equal(r!.values, [2.5, 2.5, 2.5]);
        assert.ok(r!.carried < 80_000, `${serializer}: the view's bytes travel, not its whole buffer (${r!.carried})`);
        assert.ok(Buffer.isBuffer(r!.back), `${serializer}: a Buffer result arrives as a Buffer`);
        assert.ok(r!.slice.buffer.byteLength < 80_000, `${serializer}: a result view carries its bytes only`);
      } finally {
        await p.close();
      }
    }
  });

  test('a value the transport refuses (a WeakMap, a Promise) fails with its task and path, in arguments and in results', async () => {
    await rejects(parallel.run([delayed(square)(1), delayed((o: object) => o)({ cache: new WeakMap() })]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-task');
      assert.is(error.path, 'args[0].cache');
      assert.is(error.taskIndex, 1);
    });
    await rejects(parallel.run([delayed(square)(2), delayed(() => ({ later: Promise.resolve(1) }))()]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-result');
      assert.is(error.path, 'result.later');
      assert.is(error.taskIndex, 1);
    });
    assert.equal(await parallel.run([delayed(square)(3)]), [9], 'the pool still serves');
  });

  test("a thrown error's own taskIndex does not overwrite the task's", async () => {
    const rethrows = (i: number) => {
      if (i === 2) throw Object.assign(new Error('inner failure'), { taskIndex: 0, code: 'E_INNER' });
      return i;
    };
    await rejects(parallel.run([0, 1, 2].map((i) => delayed(rethrows)(i))), (error) => {
      assert.is(error.taskIndex, 2);
      assert.is(error.properties.taskIndex, 0);
      assert.is(error.code, 'E_INNER');
    });
  });

  test('an argument whose getter throws is refused at submission, naming the task', async () => {
    const bad = Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw new Error('getter!'); } });
    await rejects(parallel.run([delayed(square)(1), delayed(square)(bad as never)]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-task');
      assert.is(error.taskIndex, 1);
      assert.match(error.message, 'getter!');
    });
  });

  test('a generator closed before its first read runs nothing', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'started');
    try {
      const gen = new Parallel({ backend, nJobs: 2, returnAs: 'generator' });
      const results = gen.run([0, 1, 2].map((i) => delayed(markAndWait)(i, file, 1)));
      await results.return();
      await sleep(150);
      assert.not.ok(existsSync(file), 'a task ran although nobody read the generator');
      await gen.close();
    } finally {
      dir.remove();
    }
  });

  test('a thrown string is reported as a TaskError with the value', async () => {
    const throwsText = () => {
      throw 'plain text';
    };
    await rejects(parallel.run([delayed(throwsText)()]), (error) => {
      assert.instance(error, TaskError);
      assert.not.ok(error.isError);
      assert.is(error.thrownValue, 'plain text');
      assert.match(error.message, 'plain text');
    });
  });

  test('the first error rejects the run, and the pool serves the next run', async () => {
    const failsOnTwo = (x: number) => {
      if (x === 2) throw new RangeError('two');
      return x;
    };
    await rejects(parallel.run([0, 1, 2, 3, 4, 5].map((x) => delayed(failsOnTwo)(x))), (error) => {
      assert.instance(error, TaskError);
      assert.is(error.taskIndex, 2);
    });
    assert.equal(await parallel.run([5, 6].map((x) => delayed(square)(x))), [25, 36]);
  });

  test('a result the serializer cannot carry fails in phase serialize-result with its path', async () => {
    const returnsFunction = () => ({ items: [1, () => 2] });
    const structured = new Parallel({ backend, serializer: 'structured', nJobs: 1 });
    await rejects(structured.run([delayed(returnsFunction)()]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-result');
      assert.is(error.path, 'result.items[1]');
      assert.is(error.serializer, 'structured');
      assert.is(error.taskIndex, 0);
    });
    await structured.close();
    // The default serializer brings the function back, and it runs here.
    const [result] = await parallel.run([delayed(returnsFunction)()]);
    assert.is((result!.items[1] as () => number)(), 2);
  });

  test('the pool is reused by consecutive runs', async () => {
    const first = new Set(await parallel.run([1, 2, 3, 4].map(() => delayed(whereAmI)())));
    const second = new Set(await parallel.run([1, 2, 3, 4].map(() => delayed(whereAmI)())));
    for (const id of second) assert.ok(first.has(id), `run 2 used a new worker ${id}`);
    if (isolated) assert.not.ok(first.has(await whereAmI()), 'tasks ran in the main thread');
  });

  test('an abort signal rejects with its reason; queued tasks never start', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'started');
    try {
      const controller = new AbortController();
      const one = new Parallel({ backend, nJobs: 1, signal: controller.signal });
      const run = one.run([0, 1, 2].map((i) => delayed(markAndWait)(i, file, 30_000)));
      while (!existsSync(file)) await sleep(5);
      const reason = new Error('stop now');
      controller.abort(reason);
      await rejects(run, (error) => assert.is(error, reason));
      await sleep(100);
      assert.is(readFileSync(file, 'utf8'), '0\n');
      // An already-aborted signal rejects at once.
      await rejects(one.run([delayed(square)(1)]), (error) => assert.is(error, reason));
      await one.close();
    } finally {
      dir.remove();
    }
  });

  test('a task over its timeout fails with TimeoutError naming its index; the pool carries on', async () => {
    const timed = new Parallel({ backend, nJobs: 2, timeout: 300 });
    await rejects(timed.run([delayed(slowEcho)(0, 1), delayed(markAndWait)(1, '/dev/null', 30_000)]), (error) => {
      assert.instance(error, TimeoutError);
      assert.is(error.taskIndex, 1);
      assert.match(error.message, 'Task 1');
    });
    assert.equal(await timed.run([delayed(square)(3)]), [9]);
    await timed.close();
  });

  if (isolated) {
    test("a timeout counts from the task's start, not from the worker's start-up", async () => {
      // A fresh pool: starting the worker takes longer than this timeout, the task itself far less.
      const fresh = new Parallel({ backend, nJobs: 2, timeout: 60 });
      assert.equal(await fresh.run([1, 2].map((x) => delayed(square)(x))), [1, 4]);
      await fresh.close();
    });

    test('a running task is stopped by abort, even a busy loop', async () => {
      const dir = tempDir();
      const file = join(dir.path, 'ticks');
      try {
        const controller = new AbortController();
        const busy = new Parallel({ backend, nJobs: 1, signal: controller.signal });
        // Spins forever, leaving a mark every few milliseconds: the marks show whether it still runs.
        const spinAndMark = async (path: string) => {
          const fs = await import('node:fs');
          for (let last = 0; ; ) {
            const now = Date.now();
            if (now - last >= 5) {
              fs.appendFileSync(path, '.');
              last = now;
            }
          }
        };
        const run = busy.run([delayed(spinAndMark)(file)]);
        while (!existsSync(file)) await sleep(5);
        const reason = new Error('enough spinning');
        controller.abort(reason);
        await rejects(run, (error) => assert.is(error, reason));
        await sleep(50);
        const stopped = readFileSync(file, 'utf8').length;
        await sleep(200);
        assert.is(readFileSync(file, 'utf8').length, stopped, 'the busy loop kept running after the abort');
        await busy.close();
      } finally {
        dir.remove();
      }
    });

    test('runs sharing one Parallel: a crash in one does not strand the other, and a new snapshot does not unsettle it', async () => {
      const shared = new Parallel({ backend, nJobs: 1 });
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
      await shared.close();
    });

    test('a per-task timeout times each task, whatever batchSize says', async () => {
      const timed = new Parallel({ backend, nJobs: 2, timeout: 150, batchSize: 20 });
      const shortWait = (x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), 10));
      const out = await timed.run(Array.from({ length: 60 }, (_, i) => delayed(shortWait)(i)));
      assert.is(out.length, 60);
      await timed.close();
    });

    test('a crash inside a batch names the tasks of that batch', async () => {
      const batched = new Parallel({ backend, nJobs: 1, batchSize: 4 });
      const exitsAt = (x: number) => (x === 6 ? process.exit(1) : x);
      await rejects(batched.run(Array.from({ length: 8 }, (_, i) => delayed(exitsAt)(i))), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.equal(error.taskIndices, [4, 5, 6, 7]);
      });
      await batched.close();
    });

    test('a worker that calls process.exit(1) fails its task with WorkerCrashedError and is replaced', async () => {
      const exits = (x: number) => {
        if (x === 1) process.exit(1);
        return x;
      };
      await rejects(parallel.run([0, 1].map((x) => delayed(exits)(x))), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.is(error.exitCode, 1);
        assert.equal(error.taskIndices, [1]);
        assert.match(error.message, 'task 1');
      });
      assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(square)(x))), [1, 4, 9]);
    });

    test('a worker that throws from a setTimeout crashes with the reason, and is replaced', async () => {
      const throwsLater = () =>
        new Promise(() => {
          setTimeout(() => {
            throw new Error('late failure');
          }, 5);
        });
      await rejects(parallel.run([delayed(throwsLater)()]), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.match(error.message, 'late failure');
      });
      assert.equal(await parallel.run([delayed(square)(4)]), [16]);
    });
  }

  test.run();
}
