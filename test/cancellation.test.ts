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
          await sleep(50);
          const stopped = readFileSync(file, 'utf8').length;
          await sleep(200);
          assert.is(readFileSync(file, 'utf8').length, stopped, 'the busy loop kept running after the abort');
        });
      } finally {
        dir.remove();
      }
    });
  }

  test.run();
}
