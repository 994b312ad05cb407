/**
 * Results as a stream, on every backend: returnAs 'generator' and 'generator_unordered', and how
 * much of an endless input a stream takes ahead of its reader.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { delayed } from 'joblet';
import { BACKENDS, sleep, tempDir, withParallel } from './helpers.js';
import { markAndWait, slowEcho, square } from './tasks.js';

for (const backend of BACKENDS) {
  const test = suite(`streamed results, on ${backend}`);
  const isolated = backend !== 'inline';

  test("with returnAs 'generator', results are yielded in submission order", async () => {
    await withParallel({ backend, nJobs: 2, returnAs: 'generator' }, async (gen) => {
      const seen: number[] = [];
      for await (const value of gen.run([40, 1, 20, 1].map((ms, i) => delayed(slowEcho)(i, ms)))) seen.push(value);
      assert.equal(seen, [0, 1, 2, 3]);
    });
  });

  test("with returnAs 'generator_unordered', results are yielded in completion order", async () => {
    await withParallel({ backend, nJobs: 2, returnAs: 'generator_unordered' }, async (gen) => {
      const seen: number[] = [];
      for await (const value of gen.run([300, 1, 1, 1].map((ms, i) => delayed(slowEcho)(i, ms)))) seen.push(value);
      assert.equal([...seen].sort(), [0, 1, 2, 3]);
      // Inline runs one task at a time, so there completion order is submission order.
      if (isolated) assert.is(seen[seen.length - 1], 0, `the slow task 0 should come last, got ${seen}`);
      else assert.equal(seen, [0, 1, 2, 3]);
    });
  });

  test('leaving a generator loop early stops pulling from an endless input', async () => {
    // One task per batch, for an exact bound: preDispatch counts batches.
    await withParallel({ backend, nJobs: 2, returnAs: 'generator', preDispatch: 2, batchSize: 1 }, async (gen) => {
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
    });
  });

  test('with batches, the window of tasks taken ahead still bounds an endless input', async () => {
    await withParallel({ backend, nJobs: 2, returnAs: 'generator_unordered', preDispatch: 2 }, async (gen) => {
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
    });
  });

  test('a generator closed before its first read runs nothing', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'started');
    try {
      await withParallel({ backend, nJobs: 2, returnAs: 'generator' }, async (gen) => {
        const results = gen.run([0, 1, 2].map((i) => delayed(markAndWait)(i, file, 1)));
        await results.return();
        await sleep(150);
        assert.not.ok(existsSync(file), 'a task ran although nobody read the generator');
      });
    } finally {
      dir.remove();
    }
  });

  test.run();
}
