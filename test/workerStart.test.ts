/**
 * A worker loads the closure codec, the by-reference kinds and the payload helpers the first
 * time a batch needs them (runtime/onDemand.ts), not before it says 'ready'. Each test gives a
 * fresh worker (a new Parallel of one) a first batch that needs one of them, and compares what
 * the worker answers with what the main thread computes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Counter, SerializationError, delayed, registerSerializer, type Serializer } from 'joblet';
import { fixture, rejects, runNode, withParallel } from './helpers.js';
import { tagged } from './fixtures/taggedSerializer.js';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

for (const backend of ['threads', 'processes'] as const) {
  const test = suite(`a fresh ${backend} worker loads what its first batch needs`);

  test('a by-reference argument: the kinds register when the def arrives', async () => {
    const counter = new Counter({ initial: 1 });
    const add = (c: Counter, by: number) => c.increment(by);
    await withParallel({ backend, nJobs: 1 }, (parallel) => parallel.run([delayed(add)(counter, 2), delayed(add)(counter, 3)]));
    assert.is(counter.value, 6);
  });

  test('a closure in, a class instance out: the codec loads to decode and to encode', async () => {
    const origin = new Point(3, 4);
    const shift = (dx: number) => new Point(origin.x + dx, origin.y);
    const out = await withParallel({ backend, nJobs: 1 }, (parallel) => parallel.run([delayed(shift)(0), delayed(shift)(1)]));
    const expected = [shift(0), shift(1)];
    assert.equal(out.map((p) => [p instanceof Point, p.x, p.y, p.norm()]), expected.map((p) => [true, p.x, p.y, p.norm()]));
  });

  test('a captured Counter: the codec meets a by-reference value before any kind was asked for', async () => {
    const counter = new Counter();
    const bump = (by: number) => counter.increment(by);
    await withParallel({ backend, nJobs: 1 }, (parallel) => parallel.run([delayed(bump)(4), delayed(bump)(5)]));
    assert.is(counter.value, 9);
  });

  test('packed arguments and results: the payload helpers load after the serializer', async () => {
    const describe = (values: ArrayLike<number>, box: { n: number }) => ({ length: values.length, first: values[0], n: box.n + 1 });
    // 'auto' and 'devalue' carry the bytes; 'json' gets a plain array.
    const cases = [['auto', new Uint8Array([7, 8, 9])], ['devalue', new Uint8Array([7, 8, 9])], ['json', [7, 8, 9]]] as const;
    for (const [serializer, values] of cases) {
      const out = await withParallel({ backend, nJobs: 1, serializer }, (parallel) => parallel.run([delayed(describe)(values, { n: 1 })]));
      assert.equal(out, [describe(values, { n: 1 })], serializer);
    }
  });

  test("a user serializer's module, which imports joblet, then a by-reference argument in the same worker", async () => {
    registerSerializer(tagged as Serializer, { module: new URL('./fixtures/taggedSerializer.js', import.meta.url), replace: true });
    const counter = new Counter();
    const add = (c: Counter, by: number) => c.increment(by);
    await withParallel({ backend, nJobs: 1, serializer: 'tagged' }, async (parallel) => {
      assert.equal(await parallel.run([delayed((x: number) => x + 1)(1)]), [2]);
      await parallel.run([delayed(add)(counter, 2), delayed(add)(counter, 5)]);
    });
    assert.is(counter.value, 7);
  });

  test('a result its serializer refuses: the failure names the phase and the path', async () => {
    await withParallel({ backend, nJobs: 1, serializer: 'structured' }, (parallel) =>
      rejects(parallel.run([delayed(() => ({ later: () => 2 }))()]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-result');
        assert.is(error.path, 'result.later');
      }),
    );
  });

  test.run();
}

const flags = suite('what a worker loads on first need, with require() of ES modules turned off');

flags('--no-experimental-require-module: the worker imports them before its first batch, the main thread hands its own over', async () => {
  const expected = { counter: 9, points: [[true, 4, 4, Math.hypot(4, 4)]], sizes: [3] };
  for (const args of [[], ['--no-experimental-require-module']]) {
    const run = await runNode([...args, fixture('onDemandCases')], { limitMs: 120_000 });
    assert.is(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout), { threads: expected, processes: expected }, args.join(' ') || 'no flag');
  }
});

flags.run();
