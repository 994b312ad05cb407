/**
 * Large lists of numbers (plain Arrays above maxNbytes): kept by the Parallel as their numbers,
 * rebuilt as Arrays in each worker, reused by the next run while unchanged, never stale after a
 * change (in the main thread, or written by a task in its worker), and anything that is not
 * exactly a list of numbers (a hole, another key, a string, a subclass) arrives as a structured
 * clone gives it. Every answer is compared with the main thread's.
 */
import { Worker } from 'node:worker_threads';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed } from 'joblet';
import { registerSeenThreads } from './helpers.js';

const SIZE = 200_000; // about 1.6 MB: above the default maxNbytes ('1M')

/** What a task saw: enough to tell any difference from the main thread's list. */
const describeList = (list: unknown[], i: number) => {
  let sum = 0;
  let negativeZeros = 0;
  let nans = 0;
  for (let k = 0; k < list.length; k++) {
    const v = list[k];
    if (typeof v === 'number') {
      if (Number.isNaN(v)) nans++;
      else if (Object.is(v, -0)) negativeZeros++;
      else sum = (sum + v * ((k % 7) + 1)) % 1_000_003;
    } else sum = (sum + String(v).length) % 1_000_003;
  }
  return {
    isArray: Array.isArray(list),
    plainPrototype: Object.getPrototypeOf(list) === Array.prototype,
    length: list.length,
    holes: list.length - Object.keys(list).filter((key) => /^\d+$/.test(key)).length,
    otherKeys: Object.keys(list).filter((key) => !/^\d+$/.test(key)),
    sum,
    negativeZeros,
    nans,
    at: list[i],
    last: list[list.length - 1],
  };
};

/** On the main thread, as a task would: the reference every worker's answer is compared with. */
const expectedFor = (list: unknown[], n: number) => Array.from({ length: n }, (_, i) => describeList(list, i));

const run = (parallel: Parallel, list: unknown[], n = 4) => parallel.run(Array.from({ length: n }, (_, i) => delayed(describeList)(list, i)));

// The defs that crossed to a real worker thread (ids and whether a list copy), to see a copy kept and reused.
const sent: { id: string; list: boolean; numbers?: string; state: unknown }[] = [];
registerSeenThreads('recorded-lists', (m) => {
  if (m.type !== 'batch') return;
  for (const d of m.batch.defs) if (d.kind === 'ref' && d.ref === 'shared') sent.push({ id: d.id, list: (d.state as { list?: string }).list !== undefined, numbers: (d.state as { list?: string }).list, state: d.state });
});

const test = suite('large lists of numbers');

test('threads: a list is sent as one kept copy, reused while unchanged, copied again after a change', async () => {
  const parallel = new Parallel({ backend: 'recorded-lists', nJobs: 1 });
  sent.length = 0;
  try {
    const list = Array.from({ length: SIZE }, (_, k) => k * 3 - 7);
    assert.equal(await run(parallel, list), expectedFor(list, 4));
    assert.equal(await run(parallel, list), expectedFor(list, 4));
    assert.equal(sent.length, 1, 'sent once: the second run reused it');
    assert.ok(sent[0]!.list, 'as a list copy');
    list[SIZE - 1] = 0.5;
    assert.equal(await run(parallel, list), expectedFor(list, 4), 'the change shows');
    assert.is(sent.length, 2);
    assert.is.not(sent[1]!.id, sent[0]!.id, 'a changed list is a new copy');
  } finally {
    await parallel.close();
  }
});

test('threads: a list of 32-bit integers is kept as such, and one number outside them (anywhere, -0 included) keeps the list as doubles', async () => {
  const parallel = new Parallel({ backend: 'recorded-lists', nJobs: 2 });
  sent.length = 0;
  try {
    const ints = Array.from({ length: SIZE }, (_, k) => (k % 2 ? k : -k) || 0); // -0 is no 32-bit integer
    ints[1] = 2 ** 31 - 1;
    ints[2] = -(2 ** 31);
    assert.equal(await run(parallel, ints), expectedFor(ints, 4));
    assert.is(sent.at(-1)!.numbers, 'int32');
    // Each of these is no 32-bit integer: a copy as Int32 would change it.
    for (const [k, odd] of [[0, -0], [SIZE - 1, -0], [3, 2 ** 31], [SIZE >> 1, -(2 ** 31) - 1], [SIZE - 1, 0.5], [5, NaN]] as const) {
      const list = Array.from({ length: SIZE }, (_, j) => j);
      list[k] = odd;
      const out = await run(parallel, list, 6);
      assert.equal(out, expectedFor(list, 6), `${Object.is(odd, -0) ? '-0' : odd} at ${k}`);
      assert.is(sent.at(-1)!.numbers, 'float64', `${odd} at ${k}: kept as doubles`);
      // The worker's answer itself: the odd number as the main thread holds it.
      const [seen] = await parallel.run([delayed((l: number[], at: number) => l[at])(list, k)]);
      assert.ok(Object.is(seen, odd), `${String(odd)} at ${k} arrives as itself, got ${String(seen)}`);
    }
  } finally {
    await parallel.close();
  }
});

test('threads: a released list copy\'s memory holds the next list of its size, and a late reader of the old one fails in a real worker (never a list of mixed numbers)', async () => {
  const parallel = new Parallel({ backend: 'recorded-lists', nJobs: 1 });
  sent.length = 0;
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     import(${JSON.stringify(new URL('../src/sharing/sharedCopies.js', import.meta.url).href)}).then(({ rebuildCopy }) => {
       parentPort.on('message', (state) => {
         try { const list = rebuildCopy(state); parentPort.postMessage({ first: list[0], last: list[list.length - 1], length: list.length }); }
         catch (error) { parentPort.postMessage({ error: error.message }); }
       });
       parentPort.postMessage('ready');
     });`,
    { eval: true },
  );
  const rebuiltThere = (state: unknown) => new Promise<{ first?: number; last?: number; length?: number; error?: string }>((resolve) => (worker.once('message', resolve), worker.postMessage(state)));
  try {
    await new Promise((resolve) => worker.once('message', resolve));
    const lists = [1, 2, 3].map((seed) => Array.from({ length: SIZE }, (_, k) => k * seed));
    // Each run releases the copy the one before it used: the third list takes the first one's memory.
    for (const list of lists) assert.equal(await run(parallel, list), expectedFor(list, 4));
    const [a, , c] = sent.map((d) => d.state as { memory: SharedArrayBuffer; stamp: number });
    assert.is(sent.length, 3);
    assert.ok(c!.memory === a!.memory, 'the third copy is written where the first was');
    assert.is.not(c!.stamp, a!.stamp);
    assert.equal(await rebuiltThere(c), { first: 0, last: (SIZE - 1) * 3, length: SIZE }, 'the live copy is the third list');
    const late = await rebuiltThere(a);
    assert.ok(late.error?.includes('after its run ended'), `the first copy, read late, fails: ${JSON.stringify(late)}`);
  } finally {
    await worker.terminate();
    await parallel.close();
  }
});

for (const backend of ['threads', 'processes'] as const) {
  test(`${backend}: numbers arrive exactly (-0, NaN, Infinity, fractions, huge and tiny), as an Array of Array's prototype`, async () => {
    const parallel = new Parallel({ backend, nJobs: 2 });
    try {
      const list: number[] = Array.from({ length: SIZE }, (_, k) => (k % 5 === 0 ? k / 3 : k));
      list[1] = -0;
      list[2] = NaN;
      list[3] = Infinity;
      list[4] = -Infinity;
      list[5] = Number.MAX_VALUE;
      list[6] = Number.MIN_VALUE;
      list[7] = 2 ** 53 + 2;
      const out = await run(parallel, list, 8);
      assert.equal(out, expectedFor(list, 8));
      assert.ok(Object.is((out[1] as { at: number }).at, -0), '-0 stays -0');
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: a list changed between runs is never stale (0 to -0 included, the same array object)`, async () => {
    const parallel = new Parallel({ backend, nJobs: 2 });
    try {
      const list = Array.from({ length: SIZE }, (_, k) => k);
      assert.equal(await run(parallel, list), expectedFor(list, 4));
      list[0] = -0; // === 0, but not the same number
      assert.equal(await run(parallel, list), expectedFor(list, 4), '0 -> -0 shows');
      list[SIZE - 1] = NaN;
      assert.equal(await run(parallel, list), expectedFor(list, 4), 'a NaN shows');
      assert.equal(await run(parallel, list), expectedFor(list, 4), 'and stays, unchanged');
      list.push(5);
      assert.equal(await run(parallel, list), expectedFor(list, 4), 'a longer list shows');
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: what a task writes into the list it got never reaches the next run`, async () => {
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      const list = Array.from({ length: SIZE }, (_, k) => k + 1);
      const scribble = (l: unknown[], mode: number) => {
        if (mode === 0) l[0] = 999;
        else if (mode === 1) (l as unknown as { note: string }).note = 'x';
        else if (mode === 2) delete l[3];
        else if (mode === 3) l.length = 10;
        else Object.setPrototypeOf(l, null);
        return 0;
      };
      for (let mode = 0; mode < 5; mode++) {
        await parallel.run([delayed(scribble)(list, mode)]);
        assert.equal(await run(parallel, list, 4), expectedFor(list, 4), `after write ${mode}`);
      }
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: a list that is not exactly numbers arrives as a structured clone gives it (a hole, another key, a string, undefined, a subclass)`, async () => {
    const parallel = new Parallel({ backend, nJobs: 2 });
    try {
      const base = () => Array.from({ length: SIZE }, (_, k) => k);
      const holey = base();
      delete holey[10];
      const keyed = Object.assign(base(), { label: 'w' });
      const stringy: unknown[] = base();
      stringy[SIZE - 1] = '1';
      const undef: unknown[] = base();
      undef[5] = undefined;
      for (const list of [holey, keyed, stringy, undef]) assert.equal(await run(parallel, list), expectedFor(list, 4));
      class Row extends Array<number> {}
      const row = Row.from(base());
      const [seen] = (await parallel.run([delayed((l: number[]) => ({ isArray: Array.isArray(l), length: l.length, last: l[l.length - 1] }))(row)])) as { isArray: boolean; length: number; last: number }[];
      assert.equal(seen, { isArray: true, length: SIZE, last: SIZE - 1 });
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: a key added to a list the run kept before still arrives (the list leaves the kept copy)`, async () => {
    const parallel = new Parallel({ backend, nJobs: 2 });
    try {
      const list: number[] & { label?: string } = Array.from({ length: SIZE }, (_, k) => k * 2);
      assert.equal(await run(parallel, list), expectedFor(list, 4));
      list.label = 'added';
      assert.equal(await run(parallel, list), expectedFor(list, 4));
      delete list.label;
      assert.equal(await run(parallel, list), expectedFor(list, 4));
    } finally {
      await parallel.close();
    }
  });
}

test.run();
