/**
 * The `initializer` option: run once per worker before its first task, its result read by tasks with
 * workerState(), rerun in a worker that replaces a dead one; its failure fails the run clearly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, InitializerError, Parallel, SerializationError, WorkerCrashedError, workerState } from 'joblet';
import { BACKENDS, rejects, throws } from './helpers.js';

/** Each call makes a new state object, with a count of how often this realm ran an initializer. */
const init = async () => {
  const g = globalThis as { initRuns?: number };
  g.initRuns = (g.initRuns ?? 0) + 1;
  await new Promise((resolve) => setTimeout(resolve, 1));
  return { id: Math.random(), runs: g.initRuns, hits: 0 };
};

type State = { id: number; runs: number; hits: number };

/** What the task sees of the state: its identity, and that it is the same object every time. */
const useState = (i: number) => {
  const state = workerState<State>();
  state.hits++;
  return { i, id: state.id, runs: state.runs };
};

for (const backend of BACKENDS) {
  test(`${backend}: the initializer runs once per worker, before its first task; every task of every run sees its state`, async () => {
    const parallel = new Parallel({ backend, nJobs: 2, initializer: init, batchSize: 3 });
    try {
      const first = await parallel.run(Array.from({ length: 30 }, (_, i) => delayed(useState)(i)));
      const second = await parallel.run(Array.from({ length: 30 }, (_, i) => delayed(useState)(i)));
      const ids = new Set([...first, ...second].map((r) => r.id));
      assert.ok(ids.size >= 1 && ids.size <= parallel.nJobs, `one state per worker, got ${ids.size}`);
      // Each realm ran the initializer once: the state holds the count at the time it ran.
      if (backend !== 'inline') for (const r of [...first, ...second]) assert.is(r.runs, 1);
      assert.equal(first.map((r) => r.i), Array.from({ length: 30 }, (_, i) => i));
    } finally {
      await parallel.close();
    }
  });

  test(`${backend}: a failing initializer fails the run with InitializerError (phase 'initializer', the worker's stack); a fixed one then works`, async () => {
    let fail = true;
    const parallel = new Parallel({ backend, nJobs: 1 });
    try {
      const flaky = () => {
        if (fail) throw new RangeError('cannot connect');
        return { ok: true };
      };
      await rejects(parallel.run([delayed((x: number) => x)(1)], { initializer: flaky }), (error) => {
        assert.instance(error, InitializerError);
        assert.is(error.phase, 'initializer');
        assert.is(error.originalName, 'RangeError');
        assert.match(error.message, "threw RangeError: cannot connect (phase 'initializer'");
        assert.match(error.stack, 'in the worker');
        assert.match(error.stack, 'flaky');
      });
      fail = false;
      assert.equal(await parallel.run([delayed(() => workerState<{ ok: boolean }>().ok)()], { initializer: flaky }), [true]);
    } finally {
      await parallel.close();
    }
  });
}

for (const backend of ['threads', 'processes'] as const) {
  test(`${backend}: the initializer reruns in the worker that replaces one that crashed`, async () => {
    const parallel = new Parallel({ backend, nJobs: 1, initializer: init });
    try {
      const [before] = await parallel.run([delayed(useState)(0)]);
      await rejects(parallel.run([delayed(() => process.exit(3))()]), (error) => assert.instance(error, WorkerCrashedError));
      const [after] = await parallel.run([delayed(useState)(1)]);
      assert.is.not(after!.id, before!.id, 'a new state in the new worker');
      assert.is(after!.runs, 1);
    } finally {
      await parallel.close();
    }
  });
}

test('a closure initializer carries what it captures; a different capture is a different initializer with its own state', async () => {
  const parallel = new Parallel({ nJobs: 1 });
  try {
    for (const prefix of ['a', 'b', 'a']) {
      const initializer = () => ({ prefix, made: Math.random() });
      const got = await parallel.run([1, 2].map((x) => delayed((n: number) => `${workerState<{ prefix: string }>().prefix}${n}`)(x)), { initializer });
      assert.equal(got, [`${prefix}1`, `${prefix}2`]);
    }
  } finally {
    await parallel.close();
  }
});

test('an initializer that cannot travel is refused before any worker, at path initializer', async () => {
  const parallel = new Parallel({ nJobs: 1, serializer: 'structured' });
  try {
    const url = 'db://here';
    await rejects(parallel.run([delayed((x: number) => x)(1)], { initializer: () => ({ url }) }), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.path, 'initializer');
      assert.match(error.message, '`url`');
    });
  } finally {
    await parallel.close();
  }
});

// A module `let` the initializer assigns and the task reads: the pattern of Python's initializer (a global).
let connection: { name: string } | undefined;
const connect = () => {
  connection = { name: 'connected' };
};
const useConnection = (i: number) => `${connection?.name ?? 'unassigned'} ${i}`;

for (const backend of BACKENDS) {
  test(`${backend}: a let the initializer assigns and the task reads is refused (the worker held two copies: the task read the unassigned one)`, async () => {
    const parallel = new Parallel({ backend, nJobs: 1, initializer: connect });
    try {
      await rejects(parallel.run([delayed(useConnection)(1)]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.path, 'initializer');
        assert.match(error.message, 'capture one binding `connection`, which `connect` assigns');
        assert.match(error.remedy, 'workerState()');
      });
    } finally {
      await parallel.close();
    }
  });
}

test('workerState() outside a task, or in a run without an initializer, throws a clear error', async () => {
  throws(() => workerState(), (error) => assert.match(error.message, 'inside a task'));
  const parallel = new Parallel({ nJobs: 1 });
  try {
    await rejects(parallel.run([delayed(() => workerState())()]), (error) => assert.match(error.message, 'workerState() has no state here'));
  } finally {
    await parallel.close();
  }
});

test('options: initializer must be a function', () => {
  throws(() => new Parallel({ initializer: 3 as never }), (error) => assert.match(error.message, 'Expected `initializer` to be a function'));
});

test.run();
