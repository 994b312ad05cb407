/**
 * Review of e1e60ad..2dab0c6 (large lists kept as Int32 or Float64 copies, a released list
 * copy's shared memory taken again by the next list of its size, defs told on arrival, workers
 * collecting forgotten copies once they add up or the worker idles). Every worker's answer is
 * compared with the main thread's.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed } from 'joblet';
import { registerSeenThreads } from './helpers.js';

const SIZE = 200_000; // about 0.8 MB as Int32, 1.6 MB as doubles: above maxNbytes ('1M') as a list (8 bytes an element)

/** What a task saw of a list whose element at k was k: the numbers that are not, and the last one. */
const misplaced = (list: unknown[]) => {
  const wrong: [number, unknown][] = [];
  for (let k = 0; k < list.length; k++) if (typeof list[k] === 'number' && list[k] !== k) wrong.push([k, list[k]]);
  return { length: list.length, wrong: wrong.slice(0, 5), count: wrong.length };
};

test('threads: a list an element\'s getter shortens while its numbers are copied never reaches a task with numbers it did not hold (zeros, or a released list\'s)', async () => {
  const parallel = new Parallel({ backend: 'threads', nJobs: 1 });
  try {
    // Lists of another number, released in turn: their memory is kept as spare for lists of their size.
    for (const size of [SIZE - 1, SIZE - 2, SIZE - 3, SIZE - 4]) {
      const other = new Array<number>(size).fill(-7);
      const [answer] = await parallel.run([delayed(misplaced)(other)]);
      assert.equal([answer!.length, answer!.count], [size, size]);
    }
    // Each element k is k; the getter of element 0 drops the list's last element each time it is read.
    const list = Array.from({ length: SIZE }, (_, k) => k);
    Object.defineProperty(list, 0, { enumerable: true, configurable: true, get: () => ((list.length -= 1), 0) });
    const [seen] = await parallel.run([delayed(misplaced)(list)]);
    // Whatever length the task got, every number in it is the one the list held at that index.
    assert.is(seen!.count, 0, `numbers the list never held at their index: ${JSON.stringify(seen)} (the list has ${list.length} elements now)`);
  } finally {
    await parallel.close();
  }
});

test('threads: the shared memory of released list copies goes once runs stop taking it, not at close()', async () => {
  // The memory of each list copy sent to a worker, watched until it is collected.
  const collected = new Set<number>();
  const registry = new FinalizationRegistry<number>((length) => collected.add(length));
  registerSeenThreads('review18-watched-lists', (message) => {
    if (message.type !== 'batch') return;
    for (const def of message.batch.defs) {
      const state = def.kind === 'ref' ? (def.state as { memory?: SharedArrayBuffer; list?: string }) : undefined;
      if (state?.list && state.memory) registry.register(state.memory, state.memory.byteLength);
    }
  });
  const parallel = new Parallel({ backend: 'review18-watched-lists', nJobs: 1 });
  const length = (list: number[]) => list.length;
  // Two lists of different sizes (so neither copy's memory takes the other's), then runs that use none.
  const first = Array.from({ length: SIZE }, (_, k) => k);
  const second = Array.from({ length: SIZE + 1 }, (_, k) => k);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  try {
    assert.equal(await parallel.run([delayed(length)(first)]), [SIZE]);
    assert.equal(await parallel.run([delayed(length)(second)]), [SIZE + 1]);
    // Enough runs for both copies to be released, and for the pool to forget the batches that named them.
    for (let i = 0; i < 12; i++) assert.equal(await parallel.run([delayed((x: number) => x + 1)(i)]), [i + 1]);
    for (let round = 0; round < 50 && collected.size < 2; round++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Both lists are still held by the caller: only the Parallel's copies of them are watched.
    assert.equal([first.length, second.length], [SIZE, SIZE + 1]);
    assert.is(collected.size, 2, `released list copies still held by the open Parallel: ${2 - collected.size}`);
  } finally {
    await parallel.close();
  }
});

test.run();
