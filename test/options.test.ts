import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Parallel,
  delayed,
  parallelConfig,
  noParallel,
  parallelEnabled,
  cpuCount,
  effectiveNJobs,
  setDefaultSerializer,
  getDefaultSerializer,
} from 'joblet';
import { rejects, throws } from './helpers.js';

const test = suite('options are validated at construction');

const throwsWith = (fn: () => unknown, type: Function, ...fragments: string[]) =>
  throws(fn, (error) => {
    assert.instance(error, type);
    for (const fragment of fragments) assert.match((error as Error).message, fragment);
  });

test('nJobs must be a non-zero integer; the error names the option and the value', () => {
  throwsWith(() => new Parallel({ nJobs: 0 }), RangeError, '`nJobs`', '`0` (number)');
  throwsWith(() => new Parallel({ nJobs: 1.5 }), RangeError, '`nJobs`', '`1.5` (number)');
  throwsWith(() => new Parallel({ nJobs: '2' as never }), TypeError, '`nJobs`', '"2"');
});

test('negative nJobs counts back from the number of cores, as in joblib', () => {
  const cores = cpuCount();
  assert.ok(cores >= 1);
  assert.is(effectiveNJobs(-1), cores);
  assert.is(effectiveNJobs(-2), Math.max(cores - 1, 1));
  assert.is(effectiveNJobs(-1000), 1);
  assert.is(effectiveNJobs(3), 3);
  assert.is(new Parallel().nJobs, cores);
  assert.is(new Parallel({ nJobs: 2, backend: 'inline' }).nJobs, 1);
  throwsWith(() => effectiveNJobs(0), RangeError, '`nJobs`');
});

test('unknown backend and serializer names list the registered ones', () => {
  throwsWith(() => new Parallel({ backend: 'gpu' }), RangeError, "Unknown backend 'gpu'", 'threads, processes, inline');
  throwsWith(() => new Parallel({ serializer: 'pickle' }), RangeError, "Unknown serializer 'pickle'", 'structured, json, devalue, javascript, closure, auto');
});

test('other options: returnAs, timeout, preDispatch, signal, unknown keys', () => {
  throwsWith(() => new Parallel({ returnAs: 'list' as never }), RangeError, '`returnAs`', "'generator_unordered'", '"list"');
  throwsWith(() => new Parallel({ timeout: -5 }), RangeError, '`timeout`', '`-5`');
  throwsWith(() => new Parallel({ timeout: '5s' as never }), TypeError, '`timeout`');
  throwsWith(() => new Parallel({ preDispatch: 'lots' }), TypeError, '`preDispatch`', '"lots"');
  throwsWith(() => new Parallel({ preDispatch: 0 }), RangeError, '`preDispatch`');
  throwsWith(() => new Parallel({ signal: {} as never }), TypeError, '`signal`', 'AbortSignal');
  throwsWith(() => new Parallel({ n_jobs: 2 } as never), TypeError, 'Unknown option `n_jobs`', 'did you mean `nJobs`');
  throwsWith(() => new Parallel({ batchSize: 0 }), RangeError, '`batchSize`', '`0` (number)');
  throwsWith(() => new Parallel({ batchSize: 'big' as never }), TypeError, '`batchSize`');
  throwsWith(() => new Parallel({ prestart: 'yes' as never }), TypeError, '`prestart`', 'boolean');
  new Parallel({ batchSize: 'auto' });
  new Parallel({ batchSize: 64 });
  throwsWith(() => new Parallel({ perWorkerBufferSize: -1 }), RangeError, '`perWorkerBufferSize`');
  new Parallel({ perWorkerBufferSize: 0 });
  new Parallel({ preDispatch: 'all' });
  new Parallel({ preDispatch: '3*nJobs', timeout: Infinity });
});

test('delayed() refuses a non-function, run() a non-task and a non-iterable', async () => {
  throwsWith(() => delayed(5 as never), TypeError, 'delayed() expects a function', '`5` (number)');
  // Its cache of the last function asked for answers no other value, undefined included (the
  // cache's empty state), in the same job as a good call or not.
  throwsWith(() => delayed(undefined as never), TypeError, 'delayed() expects a function', 'undefined');
  const double = (x: number) => 2 * x;
  const triple = (x: number) => 3 * x;
  const makeDouble = delayed(double);
  throwsWith(() => delayed(undefined as never), TypeError, 'delayed() expects a function', 'undefined');
  assert.is(delayed(double), makeDouble);
  assert.is.not(delayed(triple), makeDouble);
  assert.is(delayed(triple)(4).fn, triple);
  assert.is(delayed(double)(4).fn, double);
  await Promise.resolve();
  assert.is(delayed(double), makeDouble, 'one maker per function, across jobs');
  const add = (x: number, y: number) => x + y;
  assert.equal(delayed(add)(1, 2).args, [1, 2]);
  assert.equal(delayed(add as (x: number) => number)(1).args, [1]);
  const parallel = new Parallel({ backend: 'inline' });
  await rejects(parallel.run([5 as never]), (error) => {
    assert.instance(error, TypeError);
    assert.match(error.message, 'item 0 is `5` (number)');
  });
  // Bad input rejects the returned promise; it never throws synchronously.
  const notIterable = parallel.run(5 as never);
  await rejects(notIterable, (error) => assert.instance(error, TypeError));
  await rejects(parallel.map((x: number) => x, 5 as never), (error) => assert.match(error.message, 'map(fn, items)'));
  await rejects(parallel.map(5 as never, [1]), (error) => assert.match(error.message, 'delayed() expects a function'));
  await parallel.close();
});

const scopes = suite('parallelConfig scopes');

scopes('the scope beats the default, an explicit option beats the scope, inner beats outer', async () => {
  const before = new Parallel();
  assert.is(before.backendName, 'threads');
  await parallelConfig({ backend: 'processes', serializer: 'json', nJobs: 1 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1)); // the scope survives an await
    const scoped = new Parallel();
    assert.is(scoped.backendName, 'processes');
    assert.is(scoped.serializerName, 'json');
    assert.is(scoped.nJobs, 1);
    const explicit = new Parallel({ serializer: 'devalue', nJobs: 2 });
    assert.is(explicit.serializerName, 'devalue');
    assert.is(explicit.nJobs, 2);
    assert.is(explicit.backendName, 'processes');
    parallelConfig({ serializer: 'javascript' }, () => {
      const inner = new Parallel();
      assert.is(inner.serializerName, 'javascript');
      assert.is(inner.backendName, 'processes');
    });
  });
  assert.is(new Parallel().serializerName, getDefaultSerializer());
});

scopes('parallelConfig validates its options like the constructor', () => {
  throwsWith(() => parallelConfig({ nJobs: 0 }, () => 1), RangeError, '`nJobs`');
  throwsWith(() => parallelConfig({ returnAs: 'generator' } as never, () => 1), TypeError, 'Unknown option `returnAs`');
  throwsWith(() => parallelConfig({ settle: 'yes' } as never, () => 1), TypeError, '`settle`');
});

scopes('settle in a scope: a Parallel without its own runs past failures, one with settle: false or a run with it does not', async () => {
  const fails = (i: number) => {
    if (i === 1) throw new Error('task 1 fails');
    return i * 10;
  };
  const tasks = () => [0, 1, 2].map((i) => delayed(fails)(i));
  await parallelConfig({ settle: true, nJobs: 1 }, async () => {
    const scoped = new Parallel();
    const stops = new Parallel({ settle: false });
    try {
      const entries = (await scoped.run(tasks())) as unknown as { status: string; index: number; value?: number; reason?: Error }[];
      assert.equal(entries.map((e) => [e.status, e.index, e.value]), [['fulfilled', 0, 0], ['rejected', 1, undefined], ['fulfilled', 2, 20]]);
      assert.match(entries[1]!.reason!.message, 'task 1 fails');
      await rejects(stops.run(tasks()), (error) => assert.match(error.message, 'task 1 fails'));
      await rejects(scoped.run(tasks(), { settle: false }), (error) => assert.match(error.message, 'task 1 fails'));
    } finally {
      await Promise.all([scoped.close(), stops.close()]);
    }
  });
  const outside = new Parallel({ nJobs: 1 });
  try {
    await rejects(outside.run(tasks()), (error) => assert.match(error.message, 'task 1 fails'));
  } finally {
    await outside.close();
  }
});

scopes('noParallel runs every Parallel inline, whatever it asks for', async () => {
  assert.ok(parallelEnabled());
  const result = await noParallel(async () => {
    assert.not.ok(parallelEnabled());
    const parallel = new Parallel({ backend: 'processes', nJobs: 4 });
    assert.is(parallel.backendName, 'inline');
    const pids = await parallel.run([1, 2].map(() => delayed(() => process.pid)()));
    await parallel.close();
    return pids;
  });
  assert.equal(result, [process.pid, process.pid]);
  assert.ok(parallelEnabled());
});

scopes('setDefaultSerializer changes the default process-wide, and resets', () => {
  setDefaultSerializer('devalue');
  assert.is(new Parallel().serializerName, 'devalue');
  setDefaultSerializer();
  assert.is(new Parallel().serializerName, 'auto');
  throwsWith(() => setDefaultSerializer('pickle'), RangeError, 'Registered serializers');
});

test.run();
scopes.run();
