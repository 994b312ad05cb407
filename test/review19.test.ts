/**
 * Review of c1c0d34..bdcbd88 (delayed(fn) returns makeTask bound to fn, with a cache of the last fn
 * asked for cleared by a microtask; run()'s tasks of one primitive argument replaced in place).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Parallel, delayed, type Task } from 'joblet';

const test = suite('review 19: delayed() makers');
const square = (x: number) => x * x;

test('a maker called with new makes a task of its function, as the closure it replaced did', async () => {
  const make = delayed(square) as unknown as new (x: number) => Task<number>;
  const made = new make(3);
  // Bound to fn as `this`: under new, `this` is a fresh object, and the task's fn was that object.
  assert.is(made.fn, square, 'new (delayed(f))(3).fn should be f');
  assert.equal(made.args, [3]);
  const constructed = Reflect.construct(make, [4]) as Task<number>;
  assert.is(constructed.fn, square, 'Reflect.construct(delayed(f), [4]).fn should be f');
  assert.equal(new make(...([] as unknown as [number])).args, []);
  const parallel = new Parallel({ backend: 'inline' });
  try {
    assert.equal(await parallel.run([made, constructed]), [9, 16]);
  } finally {
    await parallel.close();
  }
});

test('the last function asked for is not held when queueMicrotask is faked (Jest/sinon fake timers fake it by default)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const real = globalThis.queueMicrotask;
  const queued: (() => void)[] = [];
  let ref: WeakRef<Function>;
  // As @sinonjs/fake-timers installs it: callbacks wait for the fake clock.
  globalThis.queueMicrotask = (callback: () => void) => void queued.push(callback);
  try {
    (() => {
      const payload = new Float64Array(1 << 16);
      const f = (x: number) => x + payload.length;
      ref = new WeakRef(f);
      delayed(f)(1);
    })();
  } finally {
    globalThis.queueMicrotask = real;
  }
  for (let round = 0; round < 20 && ref!.deref() !== undefined; round++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
  }
  const held = ref!.deref() !== undefined;
  // Let the faked queue go, so that later tests start from delayed()'s empty cache.
  for (const callback of queued) callback();
  assert.not.ok(held, 'a function given once to delayed() is still held after its job (and the caller) ended');
});

test.run();
