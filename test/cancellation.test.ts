/**
 * An abort signal, on every backend: the run rejects with the signal's reason, queued tasks never
 * start, and on an isolated backend a running task is stopped, even a busy loop.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { delayed } from 'joblet';
import { BACKENDS, rejects, sleep, tempDir, withParallel } from './helpers.js';
import { markAndWait, square } from './tasks.js';

for (const backend of BACKENDS) {
  const test = suite(`cancellation by an abort signal, on ${backend}`);
  const isolated = backend !== 'inline';

  test('an abort signal rejects the run with its reason, and queued tasks never start', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'started');
    try {
      const controller = new AbortController();
      await withParallel({ backend, nJobs: 1, signal: controller.signal }, async (one) => {
        const run = one.run([0, 1, 2].map((i) => delayed(markAndWait)(i, file, 30_000)));
        while (!existsSync(file)) await sleep(5);
        const reason = new Error('stop now');
        controller.abort(reason);
        await rejects(run, (error) => assert.is(error, reason));
        await sleep(100);
        assert.is(readFileSync(file, 'utf8'), '0\n');
        // An already-aborted signal rejects at once.
        await rejects(one.run([delayed(square)(1)]), (error) => assert.is(error, reason));
      });
    } finally {
      dir.remove();
    }
  });

  if (isolated) {
    test('an abort stops a running task, even a busy loop', async () => {
      const dir = tempDir();
      const file = join(dir.path, 'ticks');
      try {
        const controller = new AbortController();
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
        await withParallel({ backend, nJobs: 1, signal: controller.signal }, async (busy) => {
          const run = busy.run([delayed(spinAndMark)(file)]);
          while (!existsSync(file)) await sleep(5);
          const reason = new Error('enough spinning');
          controller.abort(reason);
          await rejects(run, (error) => assert.is(error, reason));
          // The loop marks every 5 ms while it runs: wait until 300 ms pass without a mark. A loop
          // that was never stopped fails at the guard; a slow machine only makes the wait longer.
          const guard = Date.now() + 20_000;
          for (let before = -1, now = readFileSync(file, 'utf8').length; now !== before; now = readFileSync(file, 'utf8').length) {
            assert.ok(Date.now() < guard, 'the busy loop kept running after the abort');
            before = now;
            await sleep(300);
          }
        });
      } finally {
        dir.remove();
      }
    });
  }

  test("a run's own signal stops that run alone; the pool and the next run go on", async () => {
    const dir = tempDir();
    const file = join(dir.path, 'started');
    try {
      await withParallel({ backend, nJobs: 1 }, async (one) => {
        const controller = new AbortController();
        const run = one.run([0, 1, 2].map((i) => delayed(markAndWait)(i, file, 30_000)), { signal: controller.signal });
        while (!existsSync(file)) await sleep(5);
        const reason = new Error('this run only');
        controller.abort(reason);
        await rejects(run, (error) => assert.is(error, reason));
        // The same Parallel serves the next call, with or without a signal of its own.
        assert.equal(await one.run([delayed(square)(3)]), [9]);
        assert.equal(await one.map(square, [1, 2], { signal: new AbortController().signal }), [1, 4]);
        // An already-aborted signal rejects that call at once, with its reason; the next call runs.
        const done = AbortSignal.abort(new Error('aborted before'));
        await rejects(one.map(square, [1, 2], { signal: done }), (error) => assert.is(error, done.reason));
        assert.equal(await one.map(square, [4]), [16]);
      });
    } finally {
      dir.remove();
    }
  });

  test("with a signal on the Parallel and one on the run, either stops the run, with its own reason", async () => {
    const outer = new AbortController();
    await withParallel({ backend, nJobs: 1, signal: outer.signal }, async (one) => {
      const inner = AbortSignal.abort(new Error('the run'));
      await rejects(one.run([delayed(square)(1)], { signal: inner }), (error) => assert.is(error, inner.reason));
      assert.equal(await one.run([delayed(square)(2)], { signal: new AbortController().signal }), [4]);
      const reason = new Error('the pool');
      outer.abort(reason);
      // The Parallel's signal, once aborted, stops every later call, a call's own signal or not.
      await rejects(one.run([delayed(square)(2)], { signal: new AbortController().signal }), (error) => assert.is(error, reason));
    });
  });

  test('bad run options reject the call and name the option', async () => {
    await withParallel({ backend, nJobs: 1 }, async (one) => {
      // @ts-expect-error: nJobs belongs to new Parallel()
      await rejects(one.run([delayed(square)(1)], { nJobs: 2 }), (error) => {
        assert.instance(error, TypeError);
        assert.match(error.message, /Unknown option `nJobs` for run\(\)/);
      });
      // @ts-expect-error: not a signal
      await rejects(one.map(square, [1], { signal: 'stop' }), (error) => assert.match(error.message, /Expected `signal` to be an AbortSignal/));
    });
  });

  test.run();
}
