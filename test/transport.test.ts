/**
 * Values crossing to the worker and back, on every backend: what the transport clones as it is
 * keeps its type and only its bytes, and what cannot travel fails with its task, phase and path.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, SerializationError } from 'joblet';
import { BACKENDS, rejects, withParallel } from './helpers.js';
import { square } from './tasks.js';

for (const backend of BACKENDS) {
  const test = suite(`values crossing to the worker and back, on ${backend}`);

  test('in a packed batch, an argument or a result that cannot travel is still blamed on its own task', async () => {
    await withParallel({ backend, nJobs: 2, serializer: 'structured', batchSize: 50 }, async (structured) => {
      const identity = (x: unknown) => x;
      const args = Array.from({ length: 100 }, (_, i) => (i === 57 ? { onItem: () => i } : i));
      await rejects(structured.run(args.map((a) => delayed(identity)(a))), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-task');
        assert.is(error.taskIndex, 57);
        assert.is(error.path, 'args[0].onItem');
      });
      const returnsFunctionAt42 = (i: number) => (i === 42 ? () => i : i);
      await rejects(structured.run(Array.from({ length: 100 }, (_, i) => delayed(returnsFunctionAt42)(i))), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-result');
        assert.is(error.taskIndex, 42);
      });
    });
  });

  // Plain data may travel as it is, cloned by the transport itself: what that clone would change is kept off that path.
  test('a Buffer stays a Buffer and a view over part of a buffer carries its bytes only, both ways', async () => {
    const probe = (b: Buffer, view: Float64Array) => ({
      isBuffer: Buffer.isBuffer(b),
      text: b.toString(),
      viewType: view.constructor.name,
      values: [...view],
      carried: view.buffer.byteLength,
      back: Buffer.from('back'),
      slice: new Float64Array(new ArrayBuffer(80_000), 8, 2),
    });
    for (const serializer of ['auto', 'structured']) {
      await withParallel({ backend, nJobs: 1, serializer }, async (p) => {
        const view = new Float64Array(new ArrayBuffer(80_000), 16, 3).fill(2.5);
        const [r] = await p.run([delayed(probe)(Buffer.from('ab'), view)]);
        assert.ok(r!.isBuffer, `${serializer}: the argument arrives as a Buffer`);
        assert.is(r!.text, 'ab');
        assert.is(r!.viewType, 'Float64Array');
        assert.equal(r!.values, [2.5, 2.5, 2.5]);
        assert.ok(r!.carried < 80_000, `${serializer}: the view's bytes travel, not its whole buffer (${r!.carried})`);
        assert.ok(Buffer.isBuffer(r!.back), `${serializer}: a Buffer result arrives as a Buffer`);
        assert.ok(r!.slice.buffer.byteLength < 80_000, `${serializer}: a result view carries its bytes only`);
      });
    }
  });

  test('a value the transport refuses (a WeakRef, a Promise) fails with its task and path, in arguments and in results', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([delayed(square)(1), delayed((o: object) => o)({ cache: new WeakRef({}) })]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-task');
        assert.is(error.path, 'args[0].cache');
        assert.is(error.taskIndex, 1);
      });
      await rejects(parallel.run([delayed(square)(2), delayed(() => ({ later: Promise.resolve(1) }))()]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-result');
        assert.is(error.path, 'result.later');
        assert.is(error.taskIndex, 1);
      });
      assert.equal(await parallel.run([delayed(square)(3)]), [9], 'the pool still serves');
    });
  });

  test('an argument whose getter throws is refused at submission, and the error names the task', async () => {
    const bad = Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw new Error('getter!'); } });
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([delayed(square)(1), delayed(square)(bad as never)]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-task');
        assert.is(error.taskIndex, 1);
        assert.match(error.message, 'getter!');
      });
    });
  });

  test('a result the serializer cannot carry fails in phase serialize-result, with its path', async () => {
    const returnsFunction = () => ({ items: [1, () => 2] });
    await withParallel({ backend, serializer: 'structured', nJobs: 1 }, async (structured) => {
      await rejects(structured.run([delayed(returnsFunction)()]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-result');
        assert.is(error.path, 'result.items[1]');
        assert.is(error.serializer, 'structured');
        assert.is(error.taskIndex, 0);
      });
    });
    // The default serializer brings the function back, and it runs here.
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      const [result] = await parallel.run([delayed(returnsFunction)()]);
      assert.is((result!.items[1] as () => number)(), 2);
    });
  });

  test.run();
}
