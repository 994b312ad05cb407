/**
 * Workers for a long job: a memory limit whose breach is named (and survived), and workers
 * replaced after N tasks or past a memory threshold, between batches, with no task lost or run
 * twice, on the two backends that own their workers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed, parallelConfig, WorkerCrashedError } from 'joblet';
import { rejects, throws, withParallel } from './helpers.js';

/** This worker's identity: a number its own global realm keeps (a thread's and a process's globals are their own). */
const whoAmI = (i: number) => [i, ((globalThis as { __jobletWorker?: number }).__jobletWorker ??= Math.random())] as const;

/** Allocates until the heap is full. */
const hoard = (n: number) => {
  const kept: number[][] = [];
  for (;;) kept.push(new Array(100_000).fill(n));
};

/** Keeps 100 KB in the worker's global for good, and says how much of its own heap is in use. */
const leak = (i: number) => {
  const g = globalThis as { __jobletLeak?: number[][] };
  (g.__jobletLeak ??= []).push(new Array(12_500).fill(i + 0.5));
  return process.memoryUsage().heapUsed;
};

for (const backend of ['threads', 'processes'] as const) {
  const test = suite(`worker limits and recycling, on ${backend}`);

  test('an out-of-memory death is a WorkerCrashedError that says so, with the limit; the pool goes on', async () => {
    // The dying child's stderr (V8's out-of-memory report) is passed on to ours: caught here, so
    // the run's output stays readable, and it must be the report the error quotes.
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      await oomCase();
    } finally {
      process.stderr.write = write;
    }
    if (backend === 'processes') assert.match(written.join(''), /heap out of memory|Reached heap limit/);
  });

  async function oomCase(): Promise<void> {
    await withParallel({ backend, nJobs: 1, resourceLimits: { maxOldGenerationSizeMb: 48 } }, async (parallel) => {
      await rejects(parallel.run([delayed((x: number) => x)(0), delayed(hoard)(1)]), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.is(error.outOfMemory, true);
        assert.is(error.memoryLimitMb, 48);
        assert.ok(error.taskIndices.includes(1), error.message);
        assert.match(error.message, /ran out of memory \(its heap limit: 48 MB\)/);
        assert.match(error.message, /heap out of memory/);
        assert.match(error.message, /maxOldGenerationSizeMb/);
      });
      // The worker was replaced, under the same limit.
      assert.equal(await parallel.run([1, 2, 3].map((x) => delayed((y: number) => y * 2)(x))), [2, 4, 6]);
    });
  }

  test('a heap limit too small for the worker to start is named out of memory', async () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      await withParallel({ backend, nJobs: 1, resourceLimits: { maxOldGenerationSizeMb: 1, maxYoungGenerationSizeMb: 1 } }, async (parallel) => {
        await rejects(parallel.run([delayed((x: number) => x)(0)]), (error) => {
          assert.instance(error, WorkerCrashedError);
          assert.is(error.outOfMemory, true, error.message);
          assert.match(error.message, /ran out of memory \(its heap limit: 1 MB\)/);
        });
      });
    } finally {
      process.stderr.write = write;
    }
  });

  test('a crash that is not out of memory says nothing of memory', async () => {
    await withParallel({ backend, nJobs: 1, resourceLimits: { maxOldGenerationSizeMb: 48 } }, async (parallel) => {
      await rejects(parallel.run([delayed(() => process.exit(3))()]), (error) => {
        assert.instance(error, WorkerCrashedError);
        assert.is(error.outOfMemory, false);
        assert.not.match(error.message, /out of memory/);
      });
    });
  });

  test('maxTasksPerWorker: each worker runs at most N tasks, every task once, and replacements get the defs they need', async () => {
    const total = backend === 'threads' ? 200 : 60;
    const limit = backend === 'threads' ? 7 : 10;
    const offset = 1000; // captured: the function travels as a closure def
    const table = new Float64Array(200_000).fill(2); // 1.6 MB: shared for the run as a def of its own
    const task = (i: number, shared: Float64Array) => [i + offset + shared[i]!, ((globalThis as { __jobletWorker?: number }).__jobletWorker ??= Math.random())] as const;
    await withParallel({ backend, nJobs: 2, maxTasksPerWorker: limit }, async (parallel) => {
      const results = await parallel.run(Array.from({ length: total }, (_, i) => delayed(task)(i, table)));
      assert.equal(
        results.map(([value]) => value),
        Array.from({ length: total }, (_, i) => i + 1002),
      );
      const perWorker = new Map<number, number>();
      for (const [, worker] of results) perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
      for (const count of perWorker.values()) assert.ok(count <= limit, `a worker ran ${count} tasks, over ${limit}`);
      assert.ok(perWorker.size >= Math.ceil(total / limit), `${perWorker.size} workers for ${total} tasks`);
      // A later run goes on with fresh workers.
      assert.equal((await parallel.run([delayed(whoAmI)(5)]))[0]![0], 5);
    });
  });

  test('maxWorkerMemory: a run of leaking tasks keeps each worker under a bound', async () => {
    // 2,000 tasks keep 100 KB each: 200 MB in one worker without recycling.
    await withParallel({ backend, nJobs: 1, batchSize: 10, maxWorkerMemory: '32M' }, async (parallel) => {
      const heaps = await parallel.run(Array.from({ length: 2000 }, (_, i) => delayed(leak)(i)));
      const peakMb = Math.max(...heaps) / 2 ** 20;
      assert.ok(peakMb < 96, `a worker's heap reached ${peakMb.toFixed(0)} MB with maxWorkerMemory '32M'`);
    });
  });

  test.run();
}

const test = suite('worker limit options');

test('the options are validated, with the option and the value named', () => {
  const fails = (options: object, kind: new (...args: never[]) => Error, ...parts: string[]) =>
    throws(
      () => new Parallel(options as never),
      (error) => {
        assert.instance(error, kind);
        for (const part of parts) assert.ok(error.message.includes(part), `${error.message} should say ${part}`);
      },
    );
  fails({ maxTasksPerWorker: 0 }, RangeError, '`maxTasksPerWorker`', '0');
  fails({ maxTasksPerWorker: 2.5 }, RangeError, '`maxTasksPerWorker`');
  fails({ maxTasksPerWorker: '10' }, TypeError, '`maxTasksPerWorker`');
  fails({ maxWorkerMemory: 0 }, RangeError, '`maxWorkerMemory`');
  fails({ maxWorkerMemory: 'lots' }, TypeError, '`maxWorkerMemory`');
  fails({ resourceLimits: 64 }, TypeError, '`resourceLimits`');
  fails({ resourceLimits: { maxOldGenerationSizeMb: -1 } }, RangeError, '`resourceLimits.maxOldGenerationSizeMb`', '-1');
  fails({ resourceLimits: { maxOldGenerationSizeMb: 1.5 } }, RangeError, 'positive integer');
  fails({ resourceLimits: { maxOldSpaceSize: 64 } }, TypeError, '`resourceLimits.maxOldSpaceSize`', 'maxOldGenerationSizeMb');
  new Parallel({ maxTasksPerWorker: 1, maxWorkerMemory: '512M', resourceLimits: { maxOldGenerationSizeMb: 256, stackSizeMb: 0.5 } });
  new Parallel({ maxWorkerMemory: null });
});

test('parallelConfig sets them as scoped defaults', async () => {
  throws(
    () => parallelConfig({ maxTasksPerWorker: -3 }, () => 0),
    (error) => assert.match(error.message, /maxTasksPerWorker/),
  );
  const parallel = parallelConfig({ maxTasksPerWorker: 1 }, () => new Parallel({ backend: 'threads', nJobs: 1 }));
  try {
    const results = await parallel.run(Array.from({ length: 6 }, (_, i) => delayed(whoAmI)(i)));
    assert.is(new Set(results.map(([, worker]) => worker)).size, 6);
  } finally {
    await parallel.close();
  }
});

test.run();
