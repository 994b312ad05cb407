/**
 * Functions that close over one `let` (issue 13, item 8): in the worker they share one binding,
 * as they do here (cloudpickle keeps cell identity), so a write through one is seen by the
 * others. Module top levels (an ES module, a CommonJS module) exist once; a factory's scope is
 * proven shared or separate by a pause at the entry of one of its functions (scopeProbe.ts), else
 * by a heap snapshot, or the payload is refused with its path, never merged or split by a guess. Each case runs in a real worker thread and a real child process,
 * and is rebuilt by the 'closure' serializer in a fresh vm context; the expected answer is the
 * same call in this thread.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import vm from 'node:vm';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { delayed, getSerializer, SerializationError, UnserializableValueError } from 'joblet';
import { decodeGraph, type Graph } from '../src/closure/codec.js';
import { withParallel } from './helpers.js';

type Fn = () => unknown;
const BACKENDS = ['threads', 'processes'] as const;
const require = createRequire(import.meta.url);

// ---- an ES module's top level: this module's own `let` --------------------------------
let seen = 0;
const see = () => ++seen;
const seenSoFar = () => seen;

// ---- a factory: one call's scope holds the binding ------------------------------------
function makeCounter() {
  let n = 0;
  return { inc: () => ++n, get: () => n };
}

// ---- a factory whose first function has a default parameter (it cannot be entered: the other is) --
function makeStepper() {
  let n = 0;
  return { add: (step = 1) => (n += step), get: () => n };
}

// ---- a factory of async functions: none can be entered, so a heap snapshot or a refusal decides --
function makeAsyncCounter() {
  let n = 0;
  return { inc: async () => ++n, get: async () => n };
}

// ---- a factory whose functions count their calls: the probe must run none of them ---------------
const entered = { calls: 0 };
function makeWatched() {
  let n = 5;
  let list = [1];
  return {
    inc: () => {
      entered.calls++;
      list = [...list, n];
      return ++n;
    },
    get: () => {
      entered.calls++;
      return [n, list] as const;
    },
  };
}

interface Case {
  name: string;
  /** Builds the task anew, so the main-thread call does not change what the worker's copy captures. */
  fresh: () => Fn;
  /** The payload may instead be refused at submission (a heap too large to prove the scope shared). */
  mayRefuse?: boolean;
}

const CASES: Case[] = [
  {
    name: "an ES module's top-level let, written by one function and read by another",
    fresh: () => {
      seen = 0;
      return () => {
        see();
        see();
        return seenSoFar();
      };
    },
  },
  {
    name: "a CommonJS module's top-level let (tsc output)",
    fresh: () => {
      const path = require.resolve('../legacy/sharedLet.cjs');
      delete require.cache[path];
      return (require(path) as { tally: Fn }).tally;
    },
  },
  {
    name: "one factory call's let, shared by the two functions it returns",
    fresh: () => {
      const counter = makeCounter();
      return () => {
        counter.inc();
        counter.inc();
        return counter.get();
      };
    },
  },
  {
    name: 'two counters from one factory, both at 0: not merged into one',
    fresh: () => {
      const a = makeCounter();
      const b = makeCounter();
      return () => {
        a.inc();
        a.inc();
        b.inc();
        return [a.get(), b.get()];
      };
    },
  },
  {
    name: 'two counters from one factory at different values: never merged (their values differ)',
    fresh: () => {
      const a = makeCounter();
      const b = makeCounter();
      b.inc();
      return () => {
        a.inc();
        b.inc();
        return [a.get(), b.get()];
      };
    },
  },
  {
    name: 'a let and the functions beside it in one scope (the task reads them by name)',
    fresh: () => {
      let n = 0;
      const inc = () => ++n;
      const get = () => n;
      return () => {
        inc();
        inc();
        return get();
      };
    },
  },
  {
    name: 'a shared object binding reassigned by one function',
    fresh: () => {
      let list: number[] = [];
      const push = (x: number) => (list = [...list, x]);
      const read = () => list;
      return () => {
        push(1);
        push(2);
        return read();
      };
    },
  },
  {
    name: "a loop's per-iteration let: each iteration's pair shares its own binding",
    fresh: () => {
      const pairs: { inc: () => number; get: () => number }[] = [];
      for (let i = 0; i < 2; i++) pairs.push({ inc: () => ++i, get: () => i });
      return () => {
        pairs[0]!.inc();
        pairs[1]!.inc();
        pairs[1]!.inc();
        return pairs.map((p) => p.get());
      };
    },
  },
  {
    name: 'one binding reached from two depths (a reader made by a nested function)',
    fresh: () => {
      let n = 0;
      const inc = () => ++n;
      function reader() {
        const unused = 1;
        return () => n + unused * 0;
      }
      const get = reader();
      return () => {
        inc();
        inc();
        return get();
      };
    },
  },
  {
    name: 'a default parameter on one function: the probe enters the other',
    fresh: () => {
      const stepper = makeStepper();
      return () => {
        stepper.add();
        stepper.add(2);
        return stepper.get();
      };
    },
  },
  {
    name: 'async functions over one let (none can be entered: a heap snapshot decides, or a refusal)',
    mayRefuse: true,
    fresh: () => {
      const counter = makeAsyncCounter();
      return async () => {
        await counter.inc();
        await counter.inc();
        return counter.get();
      };
    },
  },
];

const expected = new Map(await Promise.all(CASES.map(async (c) => [c.name, await c.fresh()()] as const)));

for (const backend of BACKENDS) {
  const test = suite(`two functions sharing one captured let, in a ${backend} worker`);
  for (const c of CASES) {
    test(c.name, async () => {
      await withParallel({ backend, nJobs: 1, serializer: 'closure' }, async (parallel) => {
        const fn = c.fresh();
        try {
          // Two runs of the same function: each starts from the values at its submission.
          for (let run = 0; run < 2; run++) assert.equal(await parallel.run([delayed(fn)()]), [expected.get(c.name)], `run ${run + 1}`);
        } catch (error) {
          if (!c.mayRefuse || !(error instanceof SerializationError)) throw error;
          // Refused at submission, naming the functions, the binding, the path and a remedy.
          assert.match(error.message, /capture `\w+`, which one of them assigns/);
          assert.match(error.message, /at fn -> captured '/);
          assert.match(error.message, /const state = \{ n: 0 \}/);
        }
      });
    });
  }
  test.run();
}

const test = suite('shared scopes rebuilt by the closure serializer in a fresh vm context');

for (const c of CASES) {
  test(c.name, async () => {
    const closure = getSerializer('closure');
    let bytes: unknown;
    try {
      bytes = closure.serialize(c.fresh());
    } catch (error) {
      if (c.mayRefuse && error instanceof UnserializableValueError) return;
      throw error;
    }
    const graph = v8.deserialize(bytes as Uint8Array) as Graph;
    const rebuilt = decodeGraph(graph, { context: vm.createContext({}) }) as Fn;
    // A value made in the vm context has that realm's prototypes: compare as JSON.
    assert.equal(JSON.parse(JSON.stringify(await rebuilt())), expected.get(c.name));
  });
}

test('proving a factory scope shared runs none of its functions and leaves the binding as it was', () => {
  const watched = makeWatched();
  watched.inc();
  const [before, list] = watched.get();
  const calls = entered.calls;
  // A heap over the snapshot's limit: the pause proves it anyway.
  const ballast = Array.from({ length: 600_000 }, (_, i) => ({ i }));
  const graph = v8.deserialize(getSerializer('closure').serialize(() => [watched.inc(), watched.get()]) as Uint8Array) as Graph;
  assert.ok(ballast.length > 0);
  assert.ok(graph.nodes.some((node) => node.t === 'scope'), 'inc and get were not made one scope');
  assert.is(entered.calls, calls, 'a function of the factory ran during the capture');
  const [after, listAfter] = watched.get();
  assert.is(after, before);
  assert.ok(listAfter === list, 'the object binding is not the same object any more');
});

test('async functions of one factory over a heap above the snapshot limit: refused at submission with path and remedy', async () => {
  const counter = makeAsyncCounter();
  const ballast = Array.from({ length: 600_000 }, (_, i) => ({ i }));
  try {
    await withParallel({ backend: 'threads', nJobs: 1 }, async (parallel) => {
      await parallel.run([
        delayed(async () => {
          await counter.inc();
          return counter.get();
        })(),
      ]);
    });
    assert.unreachable('two async functions over one let were sent without a proof of their binding');
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    assert.match(error.message, /at fn -> captured 'counter' -> \.(inc|get)/);
    assert.match(error.message, /none of them is a plain function/);
    assert.match(error.message, /const state = \{ n: 0 \}/);
  }
  assert.ok(ballast.length > 0);
});

test('two counters of one factory at the same value stay two scopes', () => {
  const a = makeCounter();
  const b = makeCounter();
  const graph = v8.deserialize(getSerializer('closure').serialize(() => [a.inc(), b.inc(), a.get(), b.get()]) as Uint8Array) as Graph;
  assert.is(graph.nodes.filter((node) => node.t === 'scope').length, 2);
});

test('a const read by two functions is copied, not made a shared scope', () => {
  const limit = 3;
  const under = (x: number) => x < limit;
  const over = (x: number) => x > limit;
  const graph = v8.deserialize(getSerializer('closure').serialize(() => [under(1), over(5)]) as Uint8Array) as Graph;
  assert.not.ok(graph.nodes.some((node) => node.t === 'scope'));
});

test('a let still in its temporal dead zone at capture stays in it (the probe writes nothing back into it)', () => {
  let threw: unknown;
  (() => {
    const inc = () => ++n;
    const get = () => n;
    try {
      getSerializer('closure').serialize(() => [inc(), get()]);
    } catch {
      // Refused or carried: either way the binding must be as it was.
    }
    try {
      get();
    } catch (error) {
      threw = error;
    }
    // eslint-disable-next-line prefer-const
    let n = 0;
    return n;
  })();
  assert.instance(threw, ReferenceError, 'the capture ended the temporal dead zone of `n`');
});

test('a variable read before its declaration ran is refused at submission, not sent as undefined (one function, on every backend)', async () => {
  for (const backend of ['threads', 'processes'] as const) {
    await withParallel({ backend, nJobs: 1 }, async (parallel) => {
      const outcome = await (async () => {
        const below = (x: number) => x < LIMIT;
        try {
          // Called here, below() throws a ReferenceError: LIMIT's declaration has not run.
          return { value: await parallel.run([delayed(below)(3)]) };
        } catch (error) {
          return { error };
        }
        // Never reached: the declaration stays unrun while the task is sent.
        const LIMIT = 10;
      })();
      assert.ok('error' in outcome, `${backend}: the worker answered ${JSON.stringify((outcome as { value?: unknown }).value)} where the main thread throws`);
      assert.instance(outcome.error, SerializationError);
      assert.match(String((outcome.error as Error).message), /`LIMIT`, whose declaration \(let, const or class\) has not run yet/);
    });
  }
  // A let declared without a value is undefined, not in its zone: carried.
  let cache: number | undefined;
  await withParallel({ backend: 'threads', nJobs: 1 }, async (parallel) => {
    assert.equal(await parallel.run([delayed(() => cache === undefined)()]), [true]);
  });
  cache = 1;
  assert.is(cache, 1);
});

test.run();
