import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed, wrapNonSerializable, getSerializer, SerializationError, type Serializer } from 'joblet';
import { BACKENDS, rejects } from './helpers.js';

const applyAll = (values: number[], transform: (x: number) => number) => values.map(transform);
const increment = (x: number) => x + 1;

for (const backend of BACKENDS) {
  const test = suite(`wrapNonSerializable on ${backend}`);
  let parallel: Parallel;
  test.before(() => {
    // joblib's case: a fast serializer for everything, the slow path for what is wrapped.
    parallel = new Parallel({ backend, nJobs: 2, serializer: 'structured' });
  });
  test.after(async () => {
    await parallel.close();
  });

  test('a function inside the arguments is refused by structured, with its path', async () => {
    const structured = new Parallel({ backend, serializer: 'structured', nJobs: 1 });
    await rejects(structured.run([delayed(applyAll)([1, 2], increment)]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.path, 'args[1]');
      assert.is(error.phase, 'serialize-task');
      assert.match(error.message, 'wrapNonSerializable');
    });
    await structured.close();
  });

  test('wrapped, it takes the slow path alone and the worker rebuilds it', async () => {
    const wrapped = wrapNonSerializable(increment);
    assert.is(wrapped(1), 2, 'the wrapped function still works in the main thread');
    assert.equal(await parallel.run([1, 2, 3].map((n) => delayed(applyAll)([n, n * 10], wrapped))), [[2, 11], [3, 21], [4, 31]]);
  });

  for (const serializer of ['json', 'devalue', 'javascript']) {
    test(`wrapped values work under '${serializer}' too, deep inside the arguments`, async () => {
      const p = new Parallel({ backend, serializer, nJobs: 1 });
      const useHandlers = (config: { handlers: Array<(x: number) => number> }, x: number) => config.handlers.map((h) => h(x));
      const config = { handlers: [wrapNonSerializable(increment), wrapNonSerializable((x: number) => x * 2)] };
      assert.equal(await p.run([delayed(useHandlers)(config, 5)]), [[6, 10]]);
      await p.close();
    });
  }

  test('delayed(wrapNonSerializable(fn)) works', async () => {
    assert.equal(await parallel.run([delayed(wrapNonSerializable(increment))(41)]), [42]);
  });

  test('a wrapped object with methods reaches the worker whole', async () => {
    const scaler = wrapNonSerializable({
      factor: 3,
      scale(x: number) {
        return x * this.factor;
      },
    });
    const useScaler = (s: { scale(x: number): number }, x: number) => s.scale(x);
    assert.equal(await parallel.run([delayed(useScaler)(scaler, 2), delayed(useScaler)(scaler, 5)]), [6, 15]);
  });

  test('a wrapped value is encoded once per run, not once per task', async () => {
    // A run encodes through the codec's session entry point: count that one.
    const fallback = getSerializer('closure') as Required<Serializer>;
    const original = fallback.serializeInSession;
    let calls = 0;
    fallback.serializeInSession = (value, session) => {
      calls++;
      return original(value, session);
    };
    try {
      const wrapped = wrapNonSerializable(increment);
      const out = await parallel.run(Array.from({ length: 10 }, (_, i) => delayed(applyAll)([i], wrapped)));
      assert.equal(out.flat(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.is(calls, 1);
      await parallel.run([delayed(applyAll)([1], wrapped)]);
      assert.is(calls, 2);
    } finally {
      fallback.serializeInSession = original;
    }
  });

  test('user data shaped like a placeholder arrives unchanged', async () => {
    const echo = (...values: unknown[]) => values;
    const lookalike = { __jobletRef: 'w0' };
    const out = await parallel.run([delayed(echo)(wrapNonSerializable({ secret: 1 }), lookalike, { __jobletRef: 'mine' })]);
    assert.equal(out, [[{ secret: 1 }, { __jobletRef: 'w0' }, { __jobletRef: 'mine' }]]);
  });

  test('wrapped values as Map keys and inside Sets are rebuilt, in order', async () => {
    const key = wrapNonSerializable({ k: 1 });
    const fn = wrapNonSerializable(increment);
    const inspect = (map: Map<unknown, unknown>, set: Set<unknown>) => [
      [...map.keys()].map((k) => JSON.stringify(k)),
      [...set].map((item) => (typeof item === 'function' ? `fn:${(item as (x: number) => number)(1)}` : item)),
    ];
    const out = await parallel.run([delayed(inspect)(new Map([[key, 'v']]), new Set([1, fn, 3]))]);
    assert.equal(out, [[['{"k":1}'], [1, 'fn:2', 3]]]);
  });

  test('a cycle through a wrapped value survives the substitution', async () => {
    const config: { run: (x: number) => number; self?: unknown; list: number[] } = { run: wrapNonSerializable(increment), list: [1, 2] };
    config.self = config;
    const useConfig = (c: typeof config) => [c.run(c.list[1]!), c.self === c];
    assert.equal(await parallel.run([delayed(useConfig)(config)]), [[3, true]]);
  });

  test('a wrapped function carries the variables it captures (the fallback is the closure serializer)', async () => {
    const k = 3;
    const offsets = { base: 100 };
    const addK = wrapNonSerializable((x: number) => x + k + offsets.base);
    assert.equal(await parallel.run([delayed(applyAll)([1, 2], addK)]), [[104, 105]]);
    assert.equal(await parallel.run([delayed(wrapNonSerializable((x: number) => x * k))(5)]), [15]);
  });

  test('a wrapped function that captures what no codec carries is refused, naming the path through its captures', async () => {
    const cache = new WeakRef(new Map<object, number>());
    const cached = wrapNonSerializable((x: object) => cache.deref()?.get(x) ?? 0);
    await rejects(parallel.run([delayed((xs: object[], f: (x: object) => number) => xs.map(f))([{}], cached)]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.serializer, 'closure');
      assert.is(error.path, "args[1] -> captured 'cache'");
      assert.match(error.message, 'WeakRef');
      assert.match(error.message, "the run's serializer 'structured'");
      // Advice must not go in a circle: the value is already wrapped.
      assert.not.match(error.remedy, 'wrapNonSerializable');
    });
  });

  test.run();
}

const bad = suite('wrapNonSerializable input');
bad('a primitive cannot be wrapped', () => {
  assert.throws(() => wrapNonSerializable(5 as never), (error: Error) => error instanceof TypeError && /`5` \(number\)/.test(error.message));
});
bad.run();
