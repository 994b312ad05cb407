/**
 * Review of the tiny-task commits (838b6f6..a4cef87): a map over a sparse Array with a serializer
 * that packs arguments, a rejection left by building a batch's one function, and the batch size a
 * run carries to the next run of the same function when that run's tasks are slow.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { Parallel, UnhandledRejectionError } from 'joblet';
import { rejects } from './helpers.js';

const require = createRequire(import.meta.url);
const rejectsOnLoad = require('../legacy/rejectsOnLoad.cjs') as { addBase(x: number): number };

for (const backend of ['threads', 'processes'] as const) {
  test(`${backend}: map over a sparse Array with a packing serializer gives each hole's task undefined`, async () => {
    const items: (number | undefined)[] = Array.from({ length: 300 }, (_, i) => i);
    delete items[150];
    const expected = Array.from(items, (x) => (x === undefined ? 'hole' : x * 2));
    for (const serializer of ['devalue', 'closure'] as const) {
      const parallel = new Parallel({ backend, nJobs: 2, serializer, batchSize: 50 });
      try {
        const double = (x: number | undefined) => (x === undefined ? 'hole' : x * 2);
        assert.equal(await parallel.map(double, items), expected, serializer);
      } finally {
        await parallel.close();
      }
    }
  });

  test(`${backend}: a rejection left while the worker builds a batch's one function is its first task's`, async () => {
    const parallel = new Parallel({ backend, nJobs: 1, batchSize: 4 });
    try {
      assert.equal(await parallel.map((x: number) => x * 2, [1, 2, 3, 4, 5, 6, 7, 8]), [2, 4, 6, 8, 10, 12, 14, 16]);
      await rejects(parallel.map(rejectsOnLoad.addBase, [10, 20, 30, 40]), (error) => {
        assert.instance(error, UnhandledRejectionError);
        assert.is(error.taskIndex, 0);
        assert.is(error.within, true);
        assert.match(error.message, 'rejectsOnLoad: loaded in a worker');
      });
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: slow tasks of a function an earlier run learned as fast still spread over the workers`, async () => {
    const parallel = new Parallel({ backend, nJobs: 2 });
    // Busy for `ms`, then the id of the worker it ran in.
    const spin = (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end);
      return ((globalThis as { reviewWorkerId?: number }).reviewWorkerId ??= Math.random());
    };
    try {
      await parallel.map(spin, new Array(30_000).fill(0));
      await parallel.map(spin, new Array(30_000).fill(0));
      const workers = new Set(await parallel.map(spin, new Array(8).fill(150)));
      assert.is(workers.size, 2, 'the 8 slow tasks ran in one worker');
    } finally {
      await parallel.close();
    }
  });
}

test.run();
