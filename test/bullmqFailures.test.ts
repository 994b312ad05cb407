/**
 * The bullmq backend when things go wrong or run long, on a real Redis with real `joblet worker`
 * processes: a timeout, an abort while a batch runs, a worker SIGKILLed mid-batch; and a stream
 * of tasks that stays bounded, progress and a Counter. Every wait is on an event or a state.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, delayed, TimeoutError, type Progress } from 'joblet';
import { rejects, sleep, tempDir } from './helpers.js';
import { RedisFixture, redisAvailable } from './redisHarness.js';

const test = suite('bullmq backend: failures, cancellation, streaming, progress');
const enabled = redisAvailable('bullmq failure tests');
const fixture = new RedisFixture(test, 'f', { workerWaitMs: 10_000 });
const serve = (count: number, concurrency: number, extra: string[] = []) => fixture.serve(count, ['--concurrency', String(concurrency), ...extra]);
const parallelOn = fixture.parallelOn.bind(fixture);

/** Writes its pid to `file`, then waits forever (until its worker is stopped). */
const markAndHang = async (file: string) => {
  const fs = await import('node:fs');
  fs.writeFileSync(file, String(process.pid));
  return new Promise<number>(() => {});
};

/** The promise's value, or a failure naming `what` after a minute (a hang, not a slow machine). */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within 60 s`)), 60_000)));
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(file: string): Promise<string> {
  while (!existsSync(file)) await sleep(20);
  return readFileSync(file, 'utf8');
}

test('a task past `timeout` is a TimeoutError and is stopped: its worker\'s only slot serves the next run', async () => {
  const dir = tempDir();
  const { queue } = await serve(1, 1);
  const parallel = parallelOn(queue, { timeout: 1000 });
  try {
    await rejects(parallel.run([delayed(markAndHang)(join(dir.path, 'hung'))]), (error) => {
      assert.instance(error, TimeoutError);
      assert.is(error.taskIndex, 0);
    });
    // One slot: this runs only if the hung task was stopped there.
    assert.equal(await within(parallel.run([delayed((x: number) => x + 1)(41)]), 'the slot of the timed-out task'), [42]);
  } finally {
    await parallel.close();
    dir.remove();
  }
});

test('an abort while a batch runs: the worker stops it, and its only slot serves the next run', async () => {
  const dir = tempDir();
  const file = join(dir.path, 'started');
  const { queue } = await serve(1, 1);
  const controller = new AbortController();
  const parallel = parallelOn(queue);
  try {
    const run = parallel.run([delayed(markAndHang)(file)], { signal: controller.signal });
    await waitFor(file);
    const reason = new Error('stop now');
    controller.abort(reason);
    await rejects(run, (error) => assert.is(error, reason));
    assert.equal(await within(parallel.run([delayed((x: number) => x * 2)(21)]), 'the slot of the aborted batch'), [42]);
  } finally {
    await parallel.close();
    dir.remove();
  }
  // The cancel key and the reply of the stopped batch are gone too.
  const keys = (await fixture.redis.command('KEYS', `joblet:${queue}:*`)) as string[];
  assert.equal(keys.filter((key) => !key.includes(':worker:')), []);
});

test('an abort while a taken batch waits to start (its initializer still running): its task never runs, and the slot serves the next run', async () => {
  const dir = tempDir();
  const initStarted = join(dir.path, 'init-started');
  const go = join(dir.path, 'go');
  const taskRan = join(dir.path, 'task-ran');
  const { queue, workers: [worker] } = await serve(1, 1, ['--verbose']);
  const controller = new AbortController();
  // The initializer holds the batch before its first task until the test says go (or a minute passed).
  const initializer = () => {
    const fs = process.getBuiltinModule('node:fs');
    fs.writeFileSync(initStarted, '1');
    const deadline = Date.now() + 60_000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (!fs.existsSync(go) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
    return {};
  };
  const parallel = parallelOn(queue, { initializer });
  try {
    const mark = (file: string) => {
      process.getBuiltinModule('node:fs').writeFileSync(file, 'ran');
      return 'ran';
    };
    const run = parallel.run([delayed(mark)(taskRan)], { signal: controller.signal });
    await waitFor(initStarted);
    const reason = new Error('stop before the task');
    controller.abort(reason);
    await rejects(run, (error) => assert.is(error, reason));
    // The run rejects at once here; the worker hears of the cancel through Redis a little later.
    // Released only once it answered the batch: cancelled (right), or having run the task (wrong).
    await within(
      (async () => {
        while (!/batch \S+ \(1 tasks\) in [\d.]+ ms/.test(worker!.output())) await sleep(20);
      })(),
      'the worker answering the aborted batch',
    );
    assert.match(worker!.output(), /\(cancelled\)/);
    writeFileSync(go, '1');
    // One slot: this runs after the aborted batch is gone from it, stopped or (wrongly) finished.
    assert.equal(await within(parallel.run([delayed((x: number) => x * 2)(21)]), 'the slot of the aborted batch'), [42]);
    assert.not.ok(existsSync(taskRan), 'the task of the aborted batch ran');
  } finally {
    writeFileSync(go, '1');
    await parallel.close();
    dir.remove();
  }
});

test('a worker SIGKILLed mid-batch: the batch runs again on the other worker and every result comes', async () => {
  const dir = tempDir();
  const marker = join(dir.path, 'first-run');
  // A short lock, so the other worker takes the batch back soon after the kill.
  const { queue, workers: pair } = await serve(2, 1, ['--lock-duration', '4000', '--stalled-interval', '1000']);
  const parallel = parallelOn(queue, { batchSize: 1 });
  try {
    // Task 0 hangs the first time (on the worker about to be killed), and returns when run again.
    const onceHangs = async (x: number, file: string) => {
      const fs = await import('node:fs');
      if (x === 0 && !fs.existsSync(file)) {
        fs.writeFileSync(file, String(process.pid));
        await new Promise(() => {});
      }
      return x * 10;
    };
    const run = parallel.run(Array.from({ length: 6 }, (_, i) => delayed(onceHangs)(i, marker)));
    const pid = Number(await waitFor(marker));
    const victim = pair.find((worker) => worker.child.pid === pid);
    assert.ok(victim, `the marker names a worker process (${pid})`);
    victim!.child.kill('SIGKILL');
    assert.equal(await within(run, 'the batch of the killed worker'), [0, 10, 20, 30, 40, 50]);
  } finally {
    await parallel.close();
    dir.remove();
  }
});

test('a generator of a million tasks streams: tasks taken ahead of the results stay within the window', async () => {
  const { queue } = await serve(2, 2);
  const parallel = parallelOn(queue, { nJobs: -1, batchSize: 10, returnAs: 'generator' });
  let pulled = 0;
  let received = 0;
  let ahead = 0;
  function* million() {
    for (let i = 0; i < 1_000_000; i++) {
      pulled++;
      ahead = Math.max(ahead, pulled - received);
      yield delayed((x: number) => x + 1)(i);
    }
  }
  try {
    for await (const value of parallel.run(million()) as unknown as AsyncIterable<number>) {
      assert.is(value, received + 1);
      if (++received === 2000) break;
    }
  } finally {
    await parallel.close();
  }
  // 4 slots: preDispatch '2*nJobs' = 8 batches of 10, and the batch being formed.
  assert.ok(ahead <= 8 * 10 + 10, `${ahead} tasks were taken ahead of the results`);
  assert.ok(pulled < 2000 + 100, `${pulled} tasks pulled for 2000 results`);
});

test('progress counts every task once, and a Counter incremented in remote tasks counts them all', async () => {
  const { queue } = await serve(2, 2);
  const seen: Progress[] = [];
  const parallel = parallelOn(queue, { nJobs: -1, onProgress: (p: Progress) => seen.push(p), enableProfiling: true });
  const counter = new Counter();
  try {
    const count = (x: number) => {
      counter.increment(x);
      return x;
    };
    const results = await parallel.run(Array.from({ length: 200 }, (_, i) => delayed(count)(i)));
    assert.is(results.length, 200);
    // Counted before the run resolved: each batch's increments come with its reply.
    assert.is(counter.value, (199 * 200) / 2);
    const last = seen.at(-1)!;
    assert.is(last.done, 200);
    assert.is(last.total, 200);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.done >= seen[i - 1]!.done);
    assert.is(parallel.stats().tasks, 200);
  } finally {
    await parallel.close();
  }
});

if (enabled) test.run();
