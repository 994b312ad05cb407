/**
 * The bullmq backend end to end: a real redis-server on a unix socket, real `joblet worker`
 * processes, and Parallel runs through them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { delayed, Parallel, TaskError, WorkerCrashedError, workerState } from 'joblet';
import { rejects, sleep } from './helpers.js';
import { RedisFixture, redisAvailable, SECRET, spawnWorkerProcess } from './redisHarness.js';

const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));

const lazy = suite('bullmq backend: loaded only when used');

lazy('importing joblet, and even naming the backend, loads neither bullmq nor ioredis', () => {
  const hooks = `export async function resolve(specifier, context, next) {
    if (/^(bullmq|ioredis)(\\/|$)/.test(specifier)) throw new Error('LOADED ' + specifier);
    return next(specifier, context);
  }`;
  const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;
  const script = `
    const joblet = await import(${JSON.stringify(INDEX)});
    new joblet.Parallel({ backend: 'bullmq', backendOptions: { secret: 'x'.repeat(32) } });
    let control = 'not refused';
    try { await import('bullmq'); } catch (error) { control = error.message; }
    console.log('imported; control: ' + control);`;
  const result = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.is(result.stderr.includes('LOADED') ? result.stderr : '', '');
  assert.match(result.stdout, 'imported; control: LOADED bullmq');
});

lazy.run();

const test = suite('bullmq backend: end to end on a real Redis');
const enabled = redisAvailable('bullmq backend tests');
const fixture = new RedisFixture(test, 'q', { workerWaitMs: 5000 });
const serve = fixture.serve.bind(fixture);
const parallelOn = fixture.parallelOn.bind(fixture);

test('the worker refuses to start without a secret, or with one under 32 bytes, saying how to make one', async () => {
  const none = spawnWorkerProcess(['--redis', fixture.redis.socket]);
  assert.is(await none.exited, 1);
  assert.match(none.output(), /JOBLET_SECRET/);
  assert.match(none.output(), /openssl rand/);
  const short = spawnWorkerProcess(['--redis', fixture.redis.socket], { JOBLET_SECRET: 'too-short' });
  assert.is(await short.exited, 1);
  assert.match(short.output(), /at least 32/);
});

test('the worker prints one ready line and exits cleanly on SIGTERM', async () => {
  const { workers: [worker] } = await serve(1);
  assert.is(worker!.output().trim().split('\n').length, 1);
  worker!.child.kill('SIGTERM');
  assert.is(await worker!.exited, 0);
});

test('run(): closures with their captures, results in submission order, nJobs -1 = the slots the workers advertise', async () => {
  const { queue } = await serve(2);
  const parallel = parallelOn(queue, { nJobs: -1 });
  try {
    const offset = 1000;
    const table = new Map([[3, 'three']]);
    const addOffset = (x: number) => ({ x: x + offset, name: table.get(x) ?? null });
    const results = await parallel.run(Array.from({ length: 500 }, (_, i) => delayed(addOffset)(i)));
    assert.is(results.length, 500);
    assert.equal(results[3], { x: 1003, name: 'three' });
    assert.ok(results.every((r, i) => r.x === i + offset));
    // A second run on the same Parallel, as a generator in order.
    const seen: number[] = [];
    const ordered = new Parallel({ backend: 'bullmq', backendOptions: { connection: fixture.redis.socket, queue, secret: SECRET }, returnAs: 'generator' });
    try {
      const slowFirst = async (x: number) => {
        await new Promise((resolve) => setTimeout(resolve, x === 0 ? 50 : 0));
        return x * 2;
      };
      for await (const value of ordered.run(Array.from({ length: 40 }, (_, i) => delayed(slowFirst)(i)))) seen.push(value);
    } finally {
      await ordered.close();
    }
    assert.equal(seen, Array.from({ length: 40 }, (_, i) => i * 2));
  } finally {
    await parallel.close();
  }
});

test('with no live worker, run() rejects with an error that says to start `joblet worker`', async () => {
  const parallel = new Parallel({ backend: 'bullmq', backendOptions: { connection: fixture.redis.socket, queue: 'nobody-serves-this', secret: SECRET, workerWaitMs: 200 } });
  try {
    await rejects(parallel.run([delayed((x: number) => x)(1)]), (error) => {
      assert.match(error.message, /No joblet worker is serving queue 'nobody-serves-this'/);
      assert.match(error.message, /npx joblet worker --redis/);
    });
  } finally {
    await parallel.close();
  }
});

test('a task that throws is a TaskError, as on threads', async () => {
  const { queue } = await serve(1);
  const parallel = parallelOn(queue);
  try {
    const failsAt7 = (x: number) => {
      if (x === 7) throw new RangeError(`bad ${x}`);
      return x;
    };
    await rejects(parallel.run(Array.from({ length: 20 }, (_, i) => delayed(failsAt7)(i))), (error) => {
      assert.instance(error, TaskError);
      assert.is(error.taskIndex, 7);
      assert.match(error.message, 'bad 7');
    });
    // The worker goes on serving.
    assert.equal(await parallel.run([delayed((x: number) => x + 1)(1)]), [2]);
  } finally {
    await parallel.close();
  }
});

test('an argument V8 cannot clone (a symbol) is refused at submission with its task and path, as on threads', async () => {
  const { queue } = await serve(1);
  const parallel = parallelOn(queue);
  try {
    await rejects(parallel.run([delayed((x: { s: symbol }) => typeof x.s)({ s: Symbol('q') })]), (error) => {
      assert.is(error.name, 'SerializationError');
      assert.match(error.message, 'args[0].s');
      assert.match(error.message, 'task 0');
    });
  } finally {
    await parallel.close();
  }
});

test('an initializer runs in the remote worker and its tasks read what it made with workerState()', async () => {
  const { queue } = await serve(1);
  const prefix = 'conn'; // captured: the initializer travels as a closure
  const parallel = parallelOn(queue, { initializer: () => ({ name: `${prefix}-${process.pid}` }) });
  try {
    const results = await parallel.run(Array.from({ length: 6 }, (_, i) => delayed((x: number) => `${workerState<{ name: string }>().name}:${x}`)(i)));
    const names = new Set(results.map((r) => r.split(':')[0]));
    assert.is(names.size, 1, [...names].join(', '));
    const [name] = [...names];
    assert.match(name!, /^conn-\d+$/);
    assert.is.not(name, `conn-${process.pid}`); // made in the worker's process, not here
    assert.equal(results.map((r) => r.split(':')[1]), ['0', '1', '2', '3', '4', '5']);
  } finally {
    await parallel.close();
  }
});

test('process.exit in a task on a --pool processes worker is a WorkerCrashedError, and the worker goes on', async () => {
  const { queue } = await serve(1, ['--pool', 'processes']);
  const parallel = parallelOn(queue, { batchSize: 1 });
  try {
    const exits = (x: number) => (x === 2 ? process.exit(5) : x);
    await rejects(parallel.run(Array.from({ length: 4 }, (_, i) => delayed(exits)(i))), (error) => {
      assert.instance(error, WorkerCrashedError);
      assert.equal(error.taskIndices, [2]);
      assert.match(error.message, /code 5/);
    });
    assert.equal(await parallel.run([delayed((x: number) => x * 3)(3)]), [9]);
  } finally {
    await parallel.close();
  }
});

test('settled, a crash in the middle of a remote batch names its task; those that finished are reported lost, those not started run again', async () => {
  const { queue } = await serve(1, ['--pool', 'processes']);
  const parallel = parallelOn(queue, { batchSize: 4, settle: true });
  try {
    const exits = (x: number) => (x === 1 ? process.exit(5) : x * 10);
    // parallelOn types results without settle: the entries are Promise.allSettled's shape.
    const entries = (await parallel.run(Array.from({ length: 4 }, (_, i) => delayed(exits)(i)))) as unknown as PromiseSettledResult<number>[];
    assert.equal(entries.map((entry) => entry.status), ['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    assert.equal(entries.slice(2).map((entry) => (entry.status === 'fulfilled' ? entry.value : undefined)), [20, 30]);
    const crash = (entries[1] as PromiseRejectedResult).reason as WorkerCrashedError;
    assert.instance(crash, WorkerCrashedError);
    assert.equal(crash.taskIndices, [1]);
    assert.equal(crash.resultsLost, [0]);
    assert.equal(crash.notStarted, [2, 3]);
    assert.is((entries[0] as PromiseRejectedResult).reason, crash);
  } finally {
    await parallel.close();
  }
});

test('a tampered job and a job signed with another secret are refused unread, and the worker keeps serving', async () => {
  const { queue, workers: [worker] } = await serve(1);
  const { Queue } = await import('bullmq');
  const { sealJob } = await import('../src/backends/bullmq/envelope.js');
  const connection = { path: fixture.redis.socket };
  const bull = new Queue(queue, { connection });
  try {
    const batch = { id: 1, serializer: 'structured', defs: [], indices: [0], fns: 'f', args: [[1]] };
    const tampered = sealJob(Buffer.from(SECRET), queue, 'forged-1', 'attacker', { batch: batch as never, defRefs: [] }).data;
    tampered.body = Buffer.from('not what was signed').toString('base64');
    const otherSecret = sealJob(Buffer.from('another-secret-of-at-least-32-bytes-xxxxx'), queue, 'forged-2', 'attacker', { batch: batch as never, defRefs: [] }).data;
    // The job record, not the QueueEvents stream: events are best-effort (a missed one hung this test
    // on a loaded machine), the record's state is what the worker wrote.
    const failed = async (id: string) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        // The state first, the record after: a record read before the worker failed the job has
        // no failedReason yet, though the state read next already says 'failed'.
        if ((await bull.getJobState(id)) === 'failed') return (await bull.getJob(id))?.failedReason ?? '';
        await sleep(50);
      }
      throw new Error(`job ${id} was not failed by the worker within 60 s`);
    };
    await bull.add('batch', tampered, { jobId: 'forged-1' });
    await bull.add('batch', otherSecret, { jobId: 'forged-2' });
    const firstFailed = failed('forged-1');
    const secondFailed = failed('forged-2');
    const firstReason = await firstFailed;
    assert.match(firstReason, /bad signature.*not deserialized/, firstReason);
    const secondReason = await secondFailed;
    assert.match(secondReason, /bad signature.*not deserialized/, secondReason);
    assert.is((await bull.getJob('forged-1'))?.attemptsMade, 1);
    // Still serving, and still alive.
    const parallel = parallelOn(queue);
    try {
      assert.equal(await parallel.run([delayed((x: number) => x - 1)(10)]), [9]);
    } finally {
      await parallel.close();
    }
    assert.is(worker!.child.exitCode, null);
    await bull.obliterate({ force: true });
  } finally {
    await bull.close();
  }
});

test('nothing of a run is left in Redis after close(): no job, no reply', async () => {
  const { queue } = await serve(2);
  const parallel = parallelOn(queue);
  try {
    const double = (x: number) => x * 2;
    assert.is((await parallel.run(Array.from({ length: 300 }, (_, i) => delayed(double)(i)))).length, 300);
    await rejects(parallel.run([delayed(() => { throw new Error('x'); })()]), () => {});
  } finally {
    await parallel.close();
  }
  const keys = (await fixture.redis.command('KEYS', '*')) as string[];
  const ofRun = keys.filter((key) => key.includes(':reply:') || /^bull:[^:]+:joblet-/.test(key));
  assert.equal(ofRun, []);
  // The queue's own lists hold no job either.
  for (const list of ['wait', 'active', 'paused', 'prioritized', 'completed', 'failed', 'delayed']) {
    const type = (await fixture.redis.command('TYPE', `bull:${queue}:${list}`)) as string;
    if (type === 'none') continue;
    const size = type === 'list' ? await fixture.redis.command('LLEN', `bull:${queue}:${list}`) : await fixture.redis.command('ZCARD', `bull:${queue}:${list}`);
    assert.is(size, 0, `bull:${queue}:${list} holds ${size} entries`);
  }
});

if (enabled) test.run();
