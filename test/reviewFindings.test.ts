/**
 * A review's reproducers for prestart and large kept copies, each failing before its fix: what a
 * task does to a kept list or typed array never reaches the next run (compared with what a
 * structured clone gives the task); a hole stays a hole whatever the prototypes hold; a dropped
 * Parallel takes its prestarted workers with it; a remote backend is made at the first run.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Parallel, delayed } from 'joblet';

const SIZE = 200_000; // above the default maxNbytes: kept as a list copy
const test = suite('review findings: kept copies and prestart');

for (const backend of ['threads', 'processes'] as const) {
  test(`${backend}: a list a task froze is a fresh, writable array in the next run, as a clone gives`, async () => {
    const list = Array.from({ length: SIZE }, (_, i) => i % 10);
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      await parallel.run([delayed((xs: number[]) => (Object.freeze(xs), xs.length))(list)]);
      const doubleFirst = (xs: number[]) => {
        xs[0] = 7;
        return [xs[0], Object.isFrozen(xs)];
      };
      // Main thread, on what a structured clone gives the task: a fresh, writable array.
      assert.equal(await parallel.run([delayed(doubleFirst)(list)]), [doubleFirst(structuredClone(list))]);
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: a non-enumerable property or preventExtensions a task put on the list never reaches the next run`, async () => {
    const list = Array.from({ length: SIZE }, (_, i) => i);
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      await parallel.run([delayed((xs: number[]) => (Object.defineProperty(xs, 'memo', { value: 'run 1', enumerable: false }), Object.preventExtensions(xs), 1))(list)]);
      const look = (xs: number[]) => [Object.getOwnPropertyDescriptor(xs, 'memo')?.value ?? null, Object.isExtensible(xs)];
      assert.equal(await parallel.run([delayed(look)(list)]), [look(structuredClone(list))]);
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: a property a task added to a kept Float64Array never reaches the next run`, async () => {
    const data = new Float64Array(SIZE);
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      await parallel.run([delayed((xs: Float64Array & { memo?: string }) => ((xs.memo = 'run 1'), 1))(data)]);
      const look = (xs: Float64Array & { memo?: string }) => xs.memo ?? null;
      assert.equal(await parallel.run([delayed(look)(data)]), [look(structuredClone(data))]);
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: a hole stays a hole while Array.prototype[5] is set (the list keeps to the clone)`, async () => {
    const list = Array.from({ length: SIZE }, (_, i) => i);
    delete list[5];
    const probe = (xs: number[]) => [Object.prototype.hasOwnProperty.call(xs, 5), Object.keys(xs).length];
    (Array.prototype as unknown as Record<number, number>)[5] = 1;
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      const out = await parallel.run([delayed(probe)(list)]);
      assert.equal(out, [probe(list)], 'the worker saw an own element 5: the hole was filled from the prototype');
    } finally {
      delete (Array.prototype as unknown as Record<number, number>)[5];
      await parallel.close();
    }
  });
}

test('a Parallel made and dropped without run() or close() takes its prestarted threads with it when collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const threads = () => readdirSync('/proc/self/task').length;
  const before = threads();
  const make = () => void new Parallel({ nJobs: 2 });
  for (let i = 0; i < 5; i++) make();
  // Wait for the event (the threads gone), bounded generously: they never go.
  for (let i = 0; i < 50 && threads() > before; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // At most as many as before: a thread of an earlier test may have ended meanwhile.
  assert.ok(threads() <= before, `${threads() - before} threads held by 5 unreachable Parallels`);
});

test('bullmq: a misconfiguration surfaces at the first run whatever prestart says (only the built-in pools start at construction)', () => {
  const saved = process.env.JOBLET_SECRET;
  delete process.env.JOBLET_SECRET;
  try {
    const outcome = (prestart: boolean) => {
      try {
        new Parallel({ backend: 'bullmq', prestart });
        return 'constructed';
      } catch (error) {
        return `threw: ${(error as Error).message.slice(0, 40)}`;
      }
    };
    assert.is(outcome(true), outcome(false), 'prestart, documented as threads and processes only, changes when a bullmq misconfiguration surfaces');
  } finally {
    if (saved !== undefined) process.env.JOBLET_SECRET = saved;
  }
});

test.run();
