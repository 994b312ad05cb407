/**
 * Large data on the bullmq backend, on a real Redis with real `joblet worker` processes: a
 * persisted value crosses Redis once per worker process (counted by the workers and by Redis),
 * large arguments and results travel as blobs checked by hash, nothing is left after close(),
 * and a long-running worker's cache of defs stays bounded across runs.
 */
import { suite } from 'uvu';
import { createHash } from 'node:crypto';
import * as assert from 'uvu/assert';
import { delayed, Parallel, persist } from 'joblet';
import { rejects, sleep } from './helpers.js';
import { RedisFixture, redisAvailable, type WorkerProcess } from './redisHarness.js';

const test = suite('bullmq backend: large data by content address');
const enabled = redisAvailable('bullmq large-data tests');
const fixture = new RedisFixture(test, 'd', { workerWaitMs: 10_000, workerArgs: ['--verbose'] });
const serve = fixture.serve.bind(fixture);
const parallelOn = fixture.parallelOn.bind(fixture);

/** What a worker's verbose lines say of its defs: each batch's line carries the running totals. */
function defTotals(worker: WorkerProcess): { batches: number; fetches: number; fetchedBytes: number; cached: number[] } {
  const lines = worker.output().split('\n').filter((line) => line.includes('; defs: '));
  let fetches = 0;
  let fetchedBytes = 0;
  const cached: number[] = [];
  for (const line of lines) {
    const match = /total fetched (\d+) \((\d+) bytes\), cached \d+ \((\d+) bytes\)/.exec(line);
    assert.ok(match, line);
    fetches = Math.max(fetches, Number(match![1]));
    fetchedBytes = Math.max(fetchedBytes, Number(match![2]));
    cached.push(Number(match![3]));
  }
  return { batches: lines.length, fetches, fetchedBytes, cached };
}

async function netBytes(): Promise<{ input: number; output: number }> {
  const info = (await fixture.redis.command('INFO', 'stats')) as string;
  const read = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)![1]);
  return { input: read('total_net_input_bytes'), output: read('total_net_output_bytes') };
}

/** Keys of the queue's blobs, and their bytes. */
async function blobBytes(queue: string): Promise<{ keys: string[]; bytes: number }> {
  const keys = (await fixture.redis.command('KEYS', `joblet:${queue}:blob:*`)) as string[];
  let bytes = 0;
  for (const key of keys) bytes += Number(await fixture.redis.command('STRLEN', key));
  return { keys, bytes };
}

/** Every key joblet or BullMQ keeps for runs of `queue`, but the workers' own heartbeats and BullMQ's queue meta. */
async function runKeys(queue: string): Promise<string[]> {
  const keys = (await fixture.redis.command('KEYS', '*')) as string[];
  return keys.filter((key) => (key.startsWith(`joblet:${queue}:`) && !key.includes(':worker:')) || new RegExp(`^bull:${queue}:joblet-`).test(key));
}

/** Waits for `check` to hold (an event seen through Redis, not a clock): fails after a minute. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 60 s`);
    await sleep(50);
  }
}

const MB = 1024 * 1024;

test('a persisted 8 MB array used by 100 tasks crosses Redis once per worker process, and close() deletes it', async () => {
  const { queue, workers: pair } = await serve(2);
  const parallel = parallelOn(queue, { nJobs: -1, batchSize: 5 });
  const values = Float64Array.from({ length: MB }, (_, i) => Math.sin(i));
  const model = persist(values);
  try {
    const before = await netBytes();
    const slice = (m: { get(): Float64Array }, i: number) => {
      const array = m.get();
      let sum = 0;
      for (let j = i * 1000; j < (i + 1) * 1000; j++) sum += array[j]!;
      return [array.length, sum];
    };
    const results = await parallel.run(Array.from({ length: 100 }, (_, i) => delayed(slice)(model, i)));
    const after = await netBytes();
    // The values equal the main thread's.
    assert.equal(
      results,
      Array.from({ length: 100 }, (_, i) => [MB, values.subarray(i * 1000, (i + 1) * 1000).reduce((a, b) => a + b, 0)]),
    );
    // Each worker process fetched the array once, however many of its batches used it.
    const totals = pair.map(defTotals);
    assert.is(totals.reduce((sum, t) => sum + t.batches, 0), 20);
    for (const total of totals) {
      if (!total.batches) continue;
      assert.ok(total.fetchedBytes >= 8 * MB && total.fetchedBytes < 9 * MB, `a worker fetched ${total.fetchedBytes} bytes of defs`);
    }
    // Redis agrees: into it once, out of it once per worker (20 jobs carrying it would move 160 MB).
    const fetchers = totals.filter((t) => t.batches).length;
    assert.ok(after.input - before.input < 9 * MB, `${after.input - before.input} bytes into Redis`);
    assert.ok(after.output - before.output < fetchers * 8 * MB + MB, `${after.output - before.output} bytes out of Redis`);
    assert.ok((await blobBytes(queue)).bytes >= 8 * MB);
    // The handle's close() deletes its blob (the run's other defs stay until the Parallel closes).
    model.close();
    await until(async () => (await blobBytes(queue)).bytes < MB, 'the persisted blob deleted after close()');
  } finally {
    model.close();
    await parallel.close();
  }
  assert.equal(await runKeys(queue), []);
});

test('a large argument and a large result travel as blobs, not inside the job or the reply', async () => {
  const { queue } = await serve(1);
  // maxNbytes null: the arguments are not shared as defs, so they would travel inside the jobs.
  const parallel = parallelOn(queue, { maxNbytes: null, batchSize: 1 });
  // Redis names each key it stores (keyspace notifications, through a plain subscriber: MONITOR
  // through ioredis lost its reply order under load); a blob's key holds the hash of its bytes.
  await fixture.redis.command('CONFIG', 'SET', 'notify-keyspace-events', 'E$');
  const { Redis } = await import('ioredis');
  const client = new Redis({ path: fixture.redis.socket });
  const stored: string[] = [];
  client.on('message', (_channel: string, key: string) => stored.push(key));
  await client.subscribe('__keyevent@0__:set');
  try {
    const inputs = Array.from({ length: 3 }, (_, k) => Float64Array.from({ length: 256 * 1024 }, (_, i) => i + k / 3 + 0.1));
    const doubled = (array: Float64Array) => array.map((x) => x * 2);
    const results = await parallel.run(inputs.map((input) => delayed(doubled)(input)));
    assert.is(results.length, 3);
    results.forEach((result, k) => {
      assert.instance(result, Float64Array);
      assert.equal(result, inputs[k]!.map((x) => x * 2));
    });
    // Each 2 MB argument was stored by the producer, each 2 MB result by the worker (an owner named reply.*).
    const blobOf = (array: Float64Array, reply: boolean) => {
      const hash = createHash('sha256').update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength)).digest('hex');
      return (key: string) => key.startsWith(`joblet:${queue}:blob:`) && key.includes(`:${hash}:`) && key.includes(':blob:reply.') === reply;
    };
    const missing = () => [...inputs.map((input) => blobOf(input, false)), ...inputs.map((input) => blobOf(input.map((x) => x * 2), true))].filter((isIt) => !stored.some(isIt));
    await until(async () => missing().length === 0, `3 argument and 3 result blobs stored (seen: ${stored.join(', ')})`);
    // Read once: neither kind is left behind while the Parallel is still open.
    await until(async () => (await blobBytes(queue)).bytes < MB, 'the argument and result blobs deleted once read');
    // Over maxNbytes (the default '1M'), the same arguments are shared for the run as defs: the same results.
    const shared = parallelOn(queue);
    try {
      assert.equal(await shared.run(inputs.map((input) => delayed(doubled)(input))), inputs.map((input) => input.map((x) => x * 2)));
    } finally {
      await shared.close();
    }
  } finally {
    client.disconnect();
    await parallel.close();
  }
  assert.equal(await runKeys(queue), []);
});

test('a persisted value that only the closure codec carries (a class instance with methods) reaches a remote worker as its bytes', async () => {
  const { queue } = await serve(1);
  const parallel = parallelOn(queue);
  class Scaler {
    constructor(readonly factor: number) {}
    apply(x: number) {
      return x * this.factor;
    }
  }
  const model = persist(new Scaler(3));
  try {
    const use = (m: { get(): Scaler }, x: number) => [m.get() instanceof Object, m.get().apply(x)];
    assert.equal(await parallel.run([1, 2, 3].map((x) => delayed(use)(model, x))), [[true, 3], [true, 6], [true, 9]]);
  } finally {
    model.close();
    await parallel.close();
  }
  assert.equal(await runKeys(queue), []);
});

test('large typed arrays nested in an argument and captured by the task function reach remote workers, a change included', async () => {
  const { queue } = await serve(2);
  const parallel = parallelOn(queue);
  try {
    const weights = Float64Array.from({ length: 256 * 1024 }, (_, i) => i / 7);
    const table = Int32Array.from({ length: 512 * 1024 }, (_, i) => i % 1000);
    const score = (i: number, input: { weights: Float64Array; label: string }) => input.weights[i]! * 2 + table[i * 3]! + input.label.length;
    const run = () => parallel.run(Array.from({ length: 10 }, (_, i) => delayed(score)(i * 1000, { weights, label: 'w' })));
    const expected = () => Array.from({ length: 10 }, (_, i) => score(i * 1000, { weights, label: 'w' }));
    assert.equal(await run(), expected());
    weights[3000] = -1;
    table[9000] = 12345;
    assert.equal(await run(), expected(), 'a changed array must not give a stale result');
  } finally {
    await parallel.close();
  }
  assert.equal(await runKeys(queue), []);
});

test('a blob altered in Redis is refused by its hash, and the worker keeps serving', async () => {
  const { queue } = await serve(1);
  const { Queue } = await import('bullmq');
  const bull = new Queue(queue, { connection: { path: fixture.redis.socket } });
  const parallel = parallelOn(queue, { maxNbytes: null });
  try {
    // Paused: the job waits while its blob is altered.
    await bull.pause();
    const input = new Float64Array(256 * 1024).fill(1);
    const run = parallel.run([delayed((array: Float64Array) => array.length)(input)]);
    let keys: string[] = [];
    await until(async () => (keys = (await blobBytes(queue)).keys).length > 0 && Object.values(await bull.getJobCounts('wait', 'paused')).some((n) => n > 0), 'the job queued');
    for (const key of keys) await fixture.redis.command('SETRANGE', key, '100', 'altered');
    await bull.resume();
    await rejects(run, (error) => assert.match(error.message, /do not match the hash the signed job names/));
    assert.equal(await parallel.run([delayed((array: Float64Array) => array.length)(new Float64Array(256 * 1024))]), [256 * 1024]);
  } finally {
    await bull.resume().catch(() => {});
    await parallel.close();
    await bull.close();
  }
});

test('a long-running worker keeps its defs bounded across runs: released ones dropped, the rest least-recently-used within --cache-mb', async () => {
  const { queue, workers: [worker] } = await serve(1, ['--cache-mb', '5']);
  const parallel = parallelOn(queue, { nJobs: -1 });
  try {
    const read = (m: { get(): Float64Array }, i: number) => m.get()[i]! + m.get().length;
    // Twelve runs, each with a new 2 MB persisted value, half of them never closed.
    for (let run = 0; run < 12; run++) {
      const model = persist(new Float64Array(256 * 1024).fill(run));
      assert.equal(await parallel.run([0, 1, 2, 3].map((i) => delayed(read)(model, i))), [0, 1, 2, 3].map(() => run + 256 * 1024));
      if (run % 2) model.close();
    }
  } finally {
    await parallel.close();
  }
  const { fetches, cached } = defTotals(worker!);
  assert.ok(fetches >= 12, `${fetches} defs fetched`);
  // Never more than the budget, plus what one batch pins (its 2 MB value and its function).
  assert.ok(Math.max(...cached) <= 5 * MB + 2 * MB + 64 * 1024, `cache sizes: ${cached.join(', ')}`);
});

test('a worker drops the defs a producer released: closed persisted values leave its cache at once, whatever its budget', async () => {
  const { queue, workers: [worker] } = await serve(1);
  const parallel = parallelOn(queue, { nJobs: -1 });
  try {
    const read = (m: { get(): Float64Array }, i: number) => m.get()[i]!;
    for (let run = 0; run < 10; run++) {
      const model = persist(new Float64Array(256 * 1024).fill(run));
      assert.equal(await parallel.run([0, 1].map((i) => delayed(read)(model, i))), [run, run]);
      model.close();
    }
  } finally {
    await parallel.close();
  }
  const { fetches, cached } = defTotals(worker!);
  assert.ok(fetches >= 10, `${fetches} defs fetched`);
  // 10 values of 2 MB were fetched; the release of one may come after the next run's first batch: at most 2 (and the function) held.
  assert.ok(Math.max(...cached) <= 2 * 2 * MB + 64 * 1024, `cache sizes: ${cached.join(', ')}`);
});

if (enabled) test.run();
