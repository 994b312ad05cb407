/**
 * The worker pool's bookkeeping, on real worker threads: every message to a
 * worker is recorded on its way, so the tests see what really crossed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Parallel, TaskError, delayed, registerBackend, UnhandledRejectionError, WorkerCrashedError, wrapNonSerializable } from 'joblet';
import { WorkerPool, type SpawnWorker } from '../src/backends/pool.js';
import { spawnThread } from '../src/backends/threads.js';
import type { ToWorker, WireBatch, WireReply } from '../src/runtime/protocol.js';
import { compactBatch, compactReply, expandBatch, expandReply, type CompactReply } from '../src/runtime/compactWire.js';
import { rejects, sleep } from './helpers.js';

const CAPABILITIES = { sharedMemory: true, isolation: 'thread' } as const;

function recordingPool(nWorkers: number) {
  const sent: { worker: number; message: ToWorker }[] = [];
  let spawned = 0;
  const spawn: SpawnWorker = (events) => {
    const worker = spawned++;
    const handle = spawnThread(events);
    return { ...handle, send: (message) => (sent.push({ worker, message }), handle.send(message)) };
  };
  return { pool: new WorkerPool('threads', nWorkers, CAPABILITIES, spawn), sent, spawned: () => spawned };
}

const sourcesSentTo = (sent: { worker: number; message: ToWorker }[], worker: number) =>
  sent.filter((s) => s.worker === worker && s.message.type === 'batch').flatMap((s) => (s.message.type === 'batch' ? s.message.batch.defs : [])).filter((d) => d.kind === 'function');

const test = suite('worker pool');

test('warmUp starts every worker before any batch, and the batches then run on them', async () => {
  let ready = 0;
  let allReady!: () => void;
  const started = new Promise<void>((resolve) => (allReady = resolve));
  let spawned = 0;
  const spawn: SpawnWorker = (events) => {
    spawned++;
    return spawnThread({ ...events, message: (message) => (message.type === 'ready' && ++ready === 2 && allReady(), events.message(message)) });
  };
  const pool = new WorkerPool('threads', 2, CAPABILITIES, spawn);
  // Idle workers do not hold the process open: something must, while the test waits for them.
  const holdOpen = setInterval(() => {}, 1000);
  try {
    pool.warmUp();
    assert.is(spawned, 2);
    await started;
    pool.warmUp(); // already full: nothing more
    assert.is(spawned, 2);
    registerBackend('warm-threads', () => pool);
    const parallel = new Parallel({ backend: 'warm-threads', nJobs: 2, prestart: false });
    assert.equal(await parallel.run([1, 2, 3, 4].map((x) => delayed((y: number) => y * 2)(x))), [2, 4, 6, 8]);
    assert.is(spawned, 2, 'the run started no worker of its own');
  } finally {
    clearInterval(holdOpen);
    await pool.terminate();
  }
});

test('a Parallel on threads starts its workers when made (prestart), or when a batch first needs one (prestart: false)', async () => {
  // The process's threads (Linux): a worker thread is one from its constructor on.
  const threads = () => readdirSync('/proc/self/task').length;
  for (const prestart of [true, false]) {
    const before = threads();
    const parallel = new Parallel({ nJobs: 2, prestart });
    try {
      // At least two more, or none more (a thread of an earlier test may still be ending: never more without prestart).
      if (prestart) assert.ok(threads() - before >= 2, `${threads() - before} threads started`);
      else assert.ok(threads() - before <= 0, `${threads() - before} threads started`);
      assert.equal(await parallel.run([delayed((y: number) => y + 1)(1)]), [2]);
    } finally {
      await parallel.close();
    }
  }
});

test("a function's source reaches each worker once; a replacement worker gets it again", async () => {
  const { pool, sent, spawned } = recordingPool(1);
  registerBackend('recorded-threads', () => pool);
  // 'structured' sends a task function as its source: a 'function' def.
  const parallel = new Parallel({ backend: 'recorded-threads', nJobs: 1, serializer: 'structured' });
  const add = (a: number, b: number) => a + b;
  assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(add)(x, 1))), [2, 3, 4]);
  assert.is(sent.filter((s) => s.message.type === 'batch').length, 3);
  assert.is(sourcesSentTo(sent, 0).length, 1, 'the source travelled with the first batch only');

  const exits = (x: number) => (x === 0 ? process.exit(2) : x);
  await rejects(parallel.run([delayed(exits)(0)]), (error) => assert.instance(error, WorkerCrashedError));
  assert.equal(await parallel.run([delayed(add)(5, 5)]), [10]);
  assert.is(spawned(), 2);
  assert.is(sourcesSentTo(sent, 1).filter((d) => d.name === 'add').length, 1, 'the replacement worker received the source');
  await parallel.close();
});

test('a worker that dies while starting fails its task as a start-up crash, and nothing stays queued', async () => {
  const failing: SpawnWorker = (events) => {
    const worker = new Worker('process.exit(7)', { eval: true });
    worker.on('exit', (code) => events.exit({ code, signal: null }));
    return { send: (m) => worker.postMessage(m), ref: () => worker.ref(), unref: () => worker.unref(), terminate: async () => void (await worker.terminate()) };
  };
  const pool = new WorkerPool('threads', 1, CAPABILITIES, failing);
  const batch = { id: 1, serializer: 'structured', defs: [], indices: [4], fns: 'f:x', packed: new Uint8Array([0]) };
  await rejects(pool.submit(batch), (error) => {
    assert.instance(error, WorkerCrashedError);
    assert.is(error.exitCode, 7);
    assert.match(error.message, 'while starting, before it could run task 4');
  });
  await pool.terminate();
});

test('a spawn that throws fails the task at once and leaves nothing queued to run later', async () => {
  let calls = 0;
  const throwing: SpawnWorker = () => {
    calls++;
    throw new Error('no threads left');
  };
  const pool = new WorkerPool('threads', 1, CAPABILITIES, throwing);
  const batch = { id: 2, serializer: 'structured', defs: [], indices: [0], fns: 'f:x', packed: new Uint8Array([0]) };
  await rejects(pool.submit(batch), (error) => {
    assert.instance(error, WorkerCrashedError);
    assert.match(error.message, 'no threads left');
  });
  assert.is(calls, 1);
  await pool.terminate();
});

test('batches in flight stay under nWorkers x (1 + perWorkerBufferSize)', async () => {
  for (const perWorkerBufferSize of [0, 1, 3]) {
    let inFlight = 0;
    let most = 0;
    const counting: SpawnWorker = (events) =>
      spawnThread({
        ...events,
        message: (message) => {
          if (message.type === 'reply') inFlight--;
          events.message(message);
        },
      });
    registerBackend('counted', ({ nWorkers }) => {
      const pool = new WorkerPool('threads', nWorkers, CAPABILITIES, counting);
      const submit = pool.submit.bind(pool);
      pool.submit = (batch, events) => {
        most = Math.max(most, ++inFlight);
        return submit(batch, events);
      };
      return pool;
    });
    const parallel = new Parallel({ backend: 'counted', nJobs: 2, batchSize: 5, preDispatch: 'all', perWorkerBufferSize });
    const out = await parallel.run(Array.from({ length: 400 }, (_, i) => delayed((x: number) => x * 2)(i)));
    assert.equal(out, Array.from({ length: 400 }, (_, i) => i * 2));
    assert.ok(most <= 2 * (1 + perWorkerBufferSize), `perWorkerBufferSize ${perWorkerBufferSize}: ${most} batches in flight`);
    await parallel.close();
  }
});

test("a run of the same function starts at the batch size the last run learned; another function, or the same after close(), starts at one task", async () => {
  const sizes: number[][] = [];
  registerBackend('sized', ({ nWorkers }) => {
    const pool = new WorkerPool('threads', nWorkers, CAPABILITIES, spawnThread);
    const submit = pool.submit.bind(pool);
    pool.submit = (batch, events) => {
      sizes.at(-1)!.push(batch.indices.length);
      return submit(batch, events);
    };
    return pool;
  });
  const parallel = new Parallel({ backend: 'sized', nJobs: 2 });
  const inc = (x: number) => x + 1;
  const other = (x: number) => x + 1;
  const items = Array.from({ length: 20_000 }, (_, i) => i);
  const runOf = async (fn: (x: number) => number) => {
    sizes.push([]);
    assert.equal(await parallel.map(fn, items), items.map((x) => x + 1));
    return sizes.at(-1)!;
  };
  try {
    const first = await runOf(inc);
    // A fresh sizer sends single tasks until the first batch answers, then doubles.
    assert.equal(first.slice(0, 2), [1, 1]);
    const learned = Math.max(...first);
    const second = await runOf(inc);
    assert.ok(second[0]! > 1, `the second run began with ${second[0]} task(s) where the first reached ${learned}`);
    assert.ok(second.length < first.length, `${second.length} batches, the first run ${first.length}`);
    assert.equal((await runOf(other)).slice(0, 2), [1, 1]);
    await parallel.close();
    assert.equal((await runOf(inc)).slice(0, 2), [1, 1]);
  } finally {
    await parallel.close();
  }
});

test('the short wire form of a batch and a reply rebuilds exactly what was sent, and only plain batches take it', () => {
  const batch: WireBatch = { id: 7, serializer: 'auto', defs: [], indices: [3, 4, 5], fns: 'f', args: [[1], [2], [3]] };
  const compact = compactBatch({ type: 'batch', batch });
  assert.ok(Array.isArray(compact));
  assert.equal(expandBatch(structuredClone(compact)), { type: 'batch', batch });
  // One argument per task, sent as the arguments themselves: the flag crosses too.
  const unary: WireBatch = { ...batch, args: [1, [2], undefined], unary: true };
  assert.equal(expandBatch(structuredClone(compactBatch({ type: 'batch', batch: unary }))), { type: 'batch', batch: unary });
  // Anything the short form cannot say keeps the object form.
  for (const other of [
    { ...batch, indices: [3, 5, 6] },
    { ...batch, refKeys: ['k', undefined, undefined] },
    { ...batch, profile: true },
    { ...batch, serializerModule: 'file:///m.js' },
    { ...batch, args: undefined, packed: new Uint8Array(1) },
    { ...batch, defs: [{ kind: 'global', id: 'g', name: 'g', path: 'Math.max' } as const] },
  ]) {
    assert.not.ok(Array.isArray(compactBatch({ type: 'batch', batch: other })), JSON.stringify(Object.keys(other)));
  }
  assert.equal(expandReply(structuredClone(compactReply(7, { values: [1, 2] }) as CompactReply)), { type: 'reply', batchId: 7, values: [1, 2] });
  const failed: WireReply = { values: [1], failures: [{ index: 4, ok: false, kind: 'serialization', failure: { phase: 'serialize-result', path: 'result', serializer: 'auto', problem: 'p', remedy: 'r' } }] };
  assert.equal(compactReply(7, failed), { type: 'reply', batchId: 7, ...failed });
});

test('results and errors cross the short wire form intact on real threads', async () => {
  const parallel = new Parallel({ nJobs: 2, batchSize: 3 });
  try {
    assert.equal(await parallel.run([1, 2, 3, 4, 5, 6, 7].map((x) => delayed((y: number) => ({ y, twice: [y * 2] }))(x))), [1, 2, 3, 4, 5, 6, 7].map((y) => ({ y, twice: [y * 2] })));
    await rejects(parallel.run([0, 1, 2].map((x) => delayed((y: number) => { if (y === 1) throw new RangeError('one'); return y; })(x))), (error) => {
      assert.instance(error, TaskError);
      assert.is(error.taskIndex, 1);
    });
  } finally {
    await parallel.close();
  }
});

test('tasks of one argument travel as the arguments themselves, and arrive as they were sent, on threads and processes', async () => {
  for (const backend of ['threads', 'processes'] as const) {
    const parallel = new Parallel({ nJobs: 2, backend, batchSize: 4 });
    try {
      const shared = { n: 1 };
      const describe = (...args: unknown[]) => ({ count: args.length, first: args[0], isArray: Array.isArray(args[0]) });
      // One argument each (an array, undefined, null, an object twice), then a batch that mixes arities.
      const single = [[1, 2], undefined, null, shared, shared, 'text', [[3]], 7n];
      assert.equal(await parallel.run(single.map((arg) => delayed(describe)(arg))), single.map((arg) => ({ count: 1, first: arg, isArray: Array.isArray(arg) })), backend);
      const sameObject = (a: { n: number }, b?: { n: number }) => (b === undefined ? a.n : a === b);
      assert.equal(await parallel.run([delayed(sameObject)(shared), delayed(sameObject)(shared, shared), delayed(describe)(), delayed(sameObject)(shared)]), [1, true, { count: 0, first: undefined, isArray: false }, 1], backend);
    } finally {
      await parallel.close();
    }
  }
});

test("a worker waiting for its next batch leaves a task's own timers and immediates to run on time", async () => {
  // After answering, an idle thread may sleep on the shared counter instead of its event loop
  // (wake.ts); it must not do so while a task left work on that loop. Here the immediate and
  // the 1 ms timer are due long before the next batch comes, 30 ms later: a worker that held
  // its event loop until that batch arrived would answer [false, false].
  const parallel = new Parallel({ nJobs: 1 });
  try {
    const state = globalThis as { firedTimer?: boolean; firedImmediate?: boolean };
    const leaveWork = () => {
      const g = globalThis as { firedTimer?: boolean; firedImmediate?: boolean };
      g.firedTimer = false;
      g.firedImmediate = false;
      setTimeout(() => (g.firedTimer = true), 1);
      setImmediate(() => (g.firedImmediate = true));
      return 'left';
    };
    const read = () => {
      const g = globalThis as { firedTimer?: boolean; firedImmediate?: boolean };
      return [g.firedImmediate, g.firedTimer];
    };
    for (let round = 0; round < 3; round++) {
      assert.equal(await parallel.run([delayed(leaveWork)()]), ['left']);
      await sleep(30);
      assert.equal(await parallel.run([delayed(read)()]), [[true, true]], `round ${round}`);
    }
    assert.is(state.firedTimer, undefined, 'the tasks ran in the worker, not here');
  } finally {
    await parallel.close();
  }
});

test("a worker waiting for its next batch first lets a task's promise chains run, and the timers they start", async () => {
  // The chain's timer is set three promise reactions after the task returned. A worker that
  // waited for the next batch before those reactions ran (they run only when the thread gets
  // back to its event loop) would hold them until the reading task came, 30 ms later.
  const parallel = new Parallel({ nJobs: 1 });
  try {
    const leaveChain = () => {
      const g = globalThis as { chainTimer?: boolean };
      g.chainTimer = false;
      void (async () => {
        await null;
        await null;
        await null;
        setTimeout(() => (g.chainTimer = true), 1);
      })();
      return 'left';
    };
    const read = () => (globalThis as { chainTimer?: boolean }).chainTimer;
    // From the second round on, the task arrives while the worker waits on the shared counter.
    for (let round = 0; round < 4; round++) {
      assert.equal(await parallel.run([delayed(leaveChain)()]), ['left']);
      await sleep(30);
      assert.equal(await parallel.run([delayed(read)()]), [true], `round ${round}`);
    }
  } finally {
    await parallel.close();
  }
});

test("while single-task batches keep coming, a worker still turns its event loop: an unref'd timer fires, an unhandled rejection fails the run", async () => {
  // Neither shows in process.getActiveResourcesInfo(), so the worker cannot tell it should not
  // wait for the next batch: it must still give its event loop a turn every few milliseconds.
  const parallel = new Parallel({ nJobs: 1, batchSize: 1 });
  try {
    const task = (i: number) => {
      const g = globalThis as { unrefFired?: boolean };
      if (i === 0) {
        g.unrefFired = false;
        setTimeout(() => (g.unrefFired = true), 1).unref();
      }
      const end = performance.now() + 0.05;
      while (performance.now() < end);
      return g.unrefFired;
    };
    const seen = await parallel.run(Array.from({ length: 3000 }, (_, i) => delayed(task)(i)));
    assert.is(seen[0], false);
    assert.is(seen[2999], true, 'the 1 ms timer fired during a run of at least 150 ms');
    const rejects10 = (i: number) => {
      if (i === 10) void Promise.reject(new Error('boom from task 10'));
      const end = performance.now() + 0.05;
      while (performance.now() < end);
      return i;
    };
    await rejects(parallel.run(Array.from({ length: 3000 }, (_, i) => delayed(rejects10)(i))), (error) => {
      assert.instance(error, UnhandledRejectionError);
      assert.is((error as UnhandledRejectionError).taskIndex, 10);
      assert.match((error as Error).message, 'boom from task 10');
    });
    assert.equal(await parallel.run([delayed((x: number) => x + 1)(1)]), [2], 'a new worker serves');
  } finally {
    await parallel.close();
  }
});

test("runs one after another reach a worker waiting on the shared counter, with their defs and forget messages", async () => {
  const parallel = new Parallel({ nJobs: 1 });
  try {
    for (let i = 0; i < 200; i++) assert.equal(await parallel.run([delayed((x: number) => x * 3)(i)]), [i * 3]);
    // A wrapped function is sent as a def and forgotten when its run ends: one more message each time.
    for (let i = 0; i < 50; i++) {
      const offset = i;
      assert.equal(await parallel.run([1, 2].map((x) => delayed(wrapNonSerializable((y: number) => y + offset))(x))), [1 + i, 2 + i]);
    }
  } finally {
    await parallel.close();
  }
});

test.run();
