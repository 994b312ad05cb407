/**
 * Large data shared, not copied: persist(), sharedArray, and automatic
 * sharing of large arguments, on every backend and under every serializer.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed, persist, sharedArray, registerBackend, SerializationError, listSerializers, type PersistedModel } from 'joblet';
import { WorkerPool, type SpawnWorker } from '../src/backends/pool.js';
import { spawnThread } from '../src/backends/threads.js';
import type { ToWorker } from '../src/runtime/protocol.js';
import { BACKENDS, rejects } from './helpers.js';

interface Model {
  weights: Float64Array;
  name: string;
}
const predict = (model: PersistedModel<Model>, i: number) => model.get().weights[i]! * 10 + model.get().name.length;
// The same object on every call in a worker: rebuilt once, then cached.
const sameEveryCall = (model: PersistedModel<Model>) => {
  const seen = globalThis as { jobletSeenModel?: unknown };
  const same = seen.jobletSeenModel === model.get();
  seen.jobletSeenModel = model.get();
  return same;
};

for (const backend of BACKENDS) {
  const test = suite(`sharing on ${backend}`);
  let parallel: Parallel;
  test.before(() => {
    parallel = new Parallel({ backend, nJobs: 2 });
  });
  test.after(async () => {
    await parallel.close();
  });

  for (const method of [undefined, 'shm', 'file'] as const) {
    test(`persist(value, { method: ${method === undefined ? 'default' : `'${method}'`} }): get() works in the main thread and in tasks`, async () => {
      const model = persist({ weights: new Float64Array([1, 2, 3]), name: 'abc' }, method === undefined ? {} : { method });
      assert.is(model.get().name, 'abc');
      assert.equal([...model.get().weights], [1, 2, 3]);
      assert.equal(await parallel.run([0, 1, 2].map((i) => delayed(predict)(model, i))), [13, 23, 33]);
      model.close();
    });
  }

  test('a persisted value is rebuilt once per worker and cached', async () => {
    const model = persist({ weights: new Float64Array(4), name: 'cached' });
    const one = new Parallel({ backend, nJobs: 1 });
    const out = await one.run(Array.from({ length: 6 }, () => delayed(sameEveryCall)(model)));
    assert.equal(out, [false, true, true, true, true, true]);
    await one.close();
    model.close();
  });

  test('get() after close() is a clear error, and so is submitting a closed handle', async () => {
    const model = persist({ weights: new Float64Array(1), name: 'x' });
    model.close();
    assert.throws(() => model.get(), /was closed, so get\(\) has no value/);
    await rejects(parallel.run([delayed(predict)(model, 0)]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.path, 'args[0]');
      assert.match(error.problem, 'was closed before the task was submitted');
    });
  });

  test('a sharedArray is written in place by thread workers; processes work on a copy', async () => {
    const shared = sharedArray(Float64Array, 4);
    const fill = (array: Float64Array, i: number) => {
      array[i] = i * 10;
      return array[i];
    };
    assert.equal(await parallel.run([0, 1, 2, 3].map((i) => delayed(fill)(shared, i))), [0, 10, 20, 30]);
    const expected = backend === 'processes' ? [0, 0, 0, 0] : [0, 10, 20, 30];
    assert.equal([...shared], expected);
    const copy = sharedArray.from(new Int32Array([5, 6]));
    assert.instance(copy, Int32Array);
    assert.instance(copy.buffer, SharedArrayBuffer);
    assert.equal(await parallel.run([delayed((a: Int32Array) => a[0]! + a[1]!)(copy)]), [11]);
  });

  test("persist(..., { method: 'shm' }) puts typed arrays in shared memory: thread workers write into the same memory", async () => {
    const model = persist({ weights: new Float64Array(2), name: 'w' }, { method: 'shm' });
    assert.instance(model.get().weights.buffer, SharedArrayBuffer);
    await parallel.run([delayed((m: PersistedModel<Model>) => (m.get().weights[1] = 7))(model)]);
    assert.is(model.get().weights[1], backend === 'processes' ? 0 : 7);
    model.close();
  });

  test('a large argument is shared automatically; maxNbytes: null copies it with every task', async () => {
    const list = Array.from({ length: 200_000 }, (_, i) => i);
    const sum = (xs: number[], i: number) => xs.length + i;
    assert.equal(await parallel.run([0, 1, 2].map((i) => delayed(sum)(list, i))), [200_000, 200_001, 200_002]);
    const copying = new Parallel({ backend, nJobs: 2, maxNbytes: null });
    assert.equal(await copying.run([0, 1].map((i) => delayed(sum)(list, i))), [200_000, 200_001]);
    await copying.close();
  });

  test.run();
}

// Every message to a real worker thread is recorded, to count what crossed.
const sent: ToWorker[] = [];
const recording: SpawnWorker = (events) => {
  const handle = spawnThread(events);
  return { ...handle, send: (message) => (sent.push(message), handle.send(message)) };
};
registerBackend('recorded-sharing', ({ nWorkers }) => new WorkerPool('threads', nWorkers, { sharedMemory: true, isolation: 'thread' }, recording));
const sharedDefs = () => sent.flatMap((m) => (m.type === 'batch' ? m.batch.defs : [])).filter((d) => d.kind === 'ref' && (d.ref === 'shared' || d.ref === 'persisted'));

const once = suite('shared values cross once');

once('one large list given to 100 tasks crosses once per worker, is kept for the next run, and is released once a run no longer uses it', async () => {
  const list = Array.from({ length: 300_000 }, (_, i) => i % 7);
  const parallel = new Parallel({ backend: 'recorded-sharing', nJobs: 2 });
  sent.length = 0;
  const tasks = () => Array.from({ length: 100 }, (_, i) => delayed((xs: number[], j: number) => xs[j]!)(list, i));
  assert.equal(await parallel.run(tasks()), Array.from({ length: 100 }, (_, i) => i % 7));
  const defs = sharedDefs();
  assert.ok(defs.length >= 1 && defs.length <= 2, `the list crossed ${defs.length} times for 2 workers`);
  const released = () => sent.flatMap((m) => (m.type === 'forget' ? m.ids : []));
  assert.not.ok(released().includes(defs[0]!.id), 'kept while the next run may use it');
  assert.equal(await parallel.run(tasks()), Array.from({ length: 100 }, (_, i) => i % 7));
  assert.is(sharedDefs().length, defs.length, 'the second run sent it no more');
  await parallel.run([delayed((x: number) => x)(1)]);
  assert.ok(released().includes(defs[0]!.id), 'the workers were told to drop it once a run did without it');

  sent.length = 0;
  const copying = new Parallel({ backend: 'recorded-sharing', nJobs: 2, maxNbytes: null });
  await copying.run(Array.from({ length: 4 }, (_, i) => delayed((xs: number[], j: number) => xs[j]!)(list, i)));
  assert.is(sharedDefs().length, 0, 'maxNbytes: null sends it with each task');
  await copying.close();
  await parallel.close();
});

once('a persisted handle crosses once per worker; close() tells the workers to drop it', async () => {
  const model = persist({ weights: new Float64Array(1000), name: 'm' });
  const parallel = new Parallel({ backend: 'recorded-sharing', nJobs: 2 });
  sent.length = 0;
  await parallel.run(Array.from({ length: 50 }, (_, i) => delayed(predict)(model, i % 1000)));
  await parallel.run(Array.from({ length: 50 }, (_, i) => delayed(predict)(model, i % 1000)));
  const deliveries = sharedDefs().filter((d) => d.id === model.id).length;
  assert.ok(deliveries >= 1 && deliveries <= 2, `delivered ${deliveries} times over two runs`);
  sent.length = 0;
  model.close();
  assert.ok(sent.some((m) => m.type === 'forget' && m.ids.includes(model.id)));
  await parallel.close();
});

const everywhere = suite('sharing under every serializer');
for (const serializer of listSerializers()) {
  everywhere(`a persisted handle and a shared array travel under '${serializer}'`, async () => {
    const model = persist({ weights: new Float64Array([4, 5]), name: 'ser' });
    const shared = sharedArray.from(new Float64Array([1, 2]));
    const parallel = new Parallel({ backend: 'threads', nJobs: 1, serializer });
    const use = (m: PersistedModel<Model>, a: Float64Array, i: number) => m.get().weights[i]! + a[i]!;
    assert.equal(await parallel.run([0, 1].map((i) => delayed(use)(model, shared, i))), [5, 7]);
    await parallel.close();
    model.close();
  });
}

const inClosures = suite('sharing inside closures and results');
inClosures('a persisted handle captured by a closure works in the worker (through its file)', async () => {
  const model = persist({ weights: new Float64Array([2, 3]), name: 'captured' });
  const useCaptured = (i: number) => model.get().weights[i]! * 10;
  const parallel = new Parallel({ backend: 'processes', nJobs: 1 });
  assert.equal(await parallel.run([0, 1].map((i) => delayed(useCaptured)(i))), [20, 30]);
  await parallel.close();
  model.close();
});
inClosures('a task can persist a value and transfer it to the main thread, which then owns it', async () => {
  const parallel = new Parallel({ backend: 'threads', nJobs: 1 });
  const make = async () => {
    const { persist: persistHere } = await import('joblet');
    return persistHere({ rows: [1, 2, 3] }).transfer();
  };
  const [handle] = await parallel.run([delayed(make)()]);
  assert.equal(handle!.get(), { rows: [1, 2, 3] });
  handle!.close();
  assert.throws(() => handle!.get(), /was closed/);
  await parallel.close();
});
inClosures('a shared array captured by a closure is refused with the way to share it', async () => {
  const shared = sharedArray(Float64Array, 2);
  const parallel = new Parallel({ backend: 'inline' });
  await rejects(parallel.run([delayed(() => shared[0])()]), (error) => {
    assert.instance(error, SerializationError);
    assert.is(error.path, "fn -> captured 'shared'");
    assert.match(error.problem, 'pass it to the task as an argument');
  });
  await parallel.close();
});
inClosures.run();

const inline = suite('sharing on the inline backend');
inline('get() in an inline task returns the value itself, and a large argument is the object itself', async () => {
  const value = { weights: new Float64Array(3), name: 'itself' };
  const model = persist(value);
  const big = Array.from({ length: 300_000 }, () => 0);
  const parallel = new Parallel({ backend: 'inline' });
  // Identity shows as a side effect: what the inline task changes is this very object.
  await parallel.run([delayed((m: PersistedModel<Model>, list: number[]) => ((m.get().name = 'changed'), (list[0] = 7)))(model, big)]);
  assert.is(value.name, 'changed');
  assert.is(big[0], 7);
  await parallel.close();
  model.close();
});
inline.run();

const bad = suite('sharing: bad input');
bad('persist refuses what cannot travel, with its path', () => {
  assert.throws(
    () => persist({ cache: { seen: new WeakRef({}) } }),
    (error: unknown) => error instanceof SerializationError && error.path === 'value.cache.seen' && /WeakRef/.test(error.problem),
  );
  assert.throws(() => persist(1, { method: 'disk' as never }), /`method` to be 'shm', 'file'/);
});
bad('sharedArray refuses what is not a typed-array constructor', () => {
  assert.throws(() => sharedArray(Array as never, 3), (error: unknown) => error instanceof TypeError && /typed-array constructor/.test((error as Error).message));
  assert.throws(() => sharedArray.from([1, 2] as never), TypeError);
});
bad('maxNbytes takes bytes, a string like 10M, or null', () => {
  new Parallel({ maxNbytes: '10M' });
  new Parallel({ maxNbytes: 1024 });
  new Parallel({ maxNbytes: null });
  assert.throws(() => new Parallel({ maxNbytes: 'lots' }), /`maxNbytes`/);
});

const cleanup = suite('no temporary file is left behind');
const script = fileURLToPath(new URL('./fixtures/persistFiles.js', import.meta.url));
const runScript = (dir: string, mode: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, mode], { env: { ...process.env, JOBLET_TEMP_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => (clearTimeout(guard), resolve({ code, stdout, stderr })));
  });
for (const mode of ['close', 'exit-without-close', 'worker-crash']) {
  cleanup(`files persisted on processes are gone afterwards (${mode})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'joblet-cleanup-'));
    try {
      const result = await runScript(dir, mode);
      assert.is(result.code, 0, result.stderr);
      assert.match(result.stdout, 'files while running: 1');
      assert.equal(readdirSync(dir), [], 'the temporary folder is empty');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

const memory = suite('memory stays flat');
memory('10,000 tasks sharing one 80 MB array on threads do not copy it', async () => {
  const array = sharedArray(Float64Array, 10_000_000);
  array[9_999_999] = 1;
  const parallel = new Parallel({ backend: 'threads', nJobs: 2 });
  await parallel.run([delayed((a: Float64Array) => a.length)(array)]);
  const before = process.memoryUsage().rss;
  const out = await parallel.run(Array.from({ length: 10_000 }, (_, i) => delayed((a: Float64Array, j: number) => a[9_999_999]! + j)(array, i)));
  const grown = process.memoryUsage().rss - before;
  assert.is(out[9_999], 10_000);
  // One copy per task would be 800 GB; the bound is generous for a noisy machine.
  assert.ok(grown < 400 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1024 / 1024)} MB`);
  await parallel.close();
});

once.run();
everywhere.run();
bad.run();
cleanup.run();
memory.run();
