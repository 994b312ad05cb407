/**
 * Values that belong to modules travel by reference to them (issue 13, items 4, 6, 7, 9): a
 * function or object an installed ES-module package exports (zod, immer, lodash-es), a CommonJS
 * module's own `exports` as tsc's output uses it, and an export of a module with top-level
 * await. Each case runs in a real worker thread and a real child process and is compared with
 * the same call here; what cannot travel is refused at submission, naming the package and the path.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { produce } from 'immer';
import { groupBy, has, memoize } from 'lodash-es';
import { create, all } from 'mathjs';
import { delayed, SerializationError } from 'joblet';
import { rejects, withParallel } from './helpers.js';
import { scale } from './fixtures/topLevelAwait.js';

const require = createRequire(import.meta.url);
// tsc's CommonJS output, whose functions read their module's exports as `exports.x`.
const exportsRefs = require('../legacy/exportsRefs.cjs') as { addBase(x: number): number; remember(x: number): boolean };

// Reached through an object, not an import binding: only the package index finds them.
const zodTools = { string: z.string, number: z.number };
const immerTools = { produce };
const lodashTools = { memoize, groupBy, has };
const bump = produce((draft: { n: number }) => {
  draft.n += 1;
});
const math = create(all!, { number: 'number' });

const BACKENDS = ['threads', 'processes'] as const;

/** Run `fn(...args)` in a worker of each backend and compare with the same call here. */
async function sameInWorkers(fn: (...args: any[]) => unknown, args: unknown[] = []): Promise<void> {
  const expected = await fn(...args);
  for (const backend of BACKENDS) {
    await withParallel({ nJobs: 1, backend }, async (p) => {
      const [got] = await p.run([delayed(fn)(...args)]);
      assert.equal(got, expected, `${backend}: the worker's answer differs from the main thread's`);
    });
  }
}

/** Refused at submission on each backend, with a message and path the check accepts. */
async function refusedInWorkers(fn: () => unknown, check: (error: SerializationError) => void): Promise<void> {
  for (const backend of BACKENDS) {
    await withParallel({ nJobs: 1, backend }, async (p) => {
      await rejects(p.run([delayed(fn)()]), (error) => {
        assert.instance(error, SerializationError);
        check(error as SerializationError);
      });
    });
  }
}

const modules = suite('closures: module values by reference');

modules('a zod function reached through an object travels as the export it is', async () => {
  await sameInWorkers((s: string) => [zodTools.string().safeParse(s).success, zodTools.number().safeParse(s).success], ['text']);
});

modules("immer's produce reached through an object travels by reference", async () => {
  await sameInWorkers((n: number) => immerTools.produce({ n, list: [1] }, (d) => { d.n *= 2; d.list.push(n); }), [4]);
});

modules("lodash-es's functions reached through an object travel by reference", async () => {
  await sameInWorkers((x: number) => {
    const square = lodashTools.memoize((v: number) => v * v);
    return [square(x) + square(x), lodashTools.has({ a: { b: x } }, 'a.b'), lodashTools.groupBy([1, 2, 3, x], (v) => v % 2)];
  }, [7]);
});

// A zod schema travels as its constructor (by reference) and its definition, and the worker
// builds it again as zod's own clone does: parse answers and issue messages are zod's own.
const person = z.object({
  name: z.string().min(1),
  age: z.number().int().min(0),
  tags: z.array(z.string()).default([]),
  email: z.string().email().optional(),
});
const even = z.number().refine((n) => n % 2 === 0, 'must be even').transform((n) => n / 2);
const csv = z.string().transform((s) => s.split(',').map(Number)).pipe(z.array(z.number().max(limit())));
function limit(): number {
  return 10;
}
/** A safeParse result as data (its ZodError, an Error subclass, would come back as a plain Error). */
const outcome = (r: { success: boolean; data?: unknown; error?: { issues: unknown[] } }) => (r.success ? { data: r.data } : { issues: r.error!.issues });

modules('a captured zod schema parses in the worker as here', async () => {
  await sameInWorkers((input: unknown) => person.parse(input), [{ name: 'ada', age: 36 }]);
  await sameInWorkers((input: unknown) => outcome(person.safeParse(input)), [{ name: '', age: -1.5, email: 'nope' }]);
});

modules("a zod schema's refinements and transforms (the program's closures) travel with it", async () => {
  await sameInWorkers((xs: unknown[]) => xs.map((x) => outcome(even.safeParse(x))), [[4, 3, 'x']]);
  await sameInWorkers((s: string) => [outcome(csv.safeParse(s)), outcome(csv.safeParse('1,20'))], ['1,2,3']);
});

modules('a zod schema sent as an argument parses in the worker as here', async () => {
  await sameInWorkers((schema: z.ZodType, input: unknown) => outcome(schema.safeParse(input)), [person, { name: 'x', age: 'old' }]);
});

modules('a zod schema zod keeps state about (a description) is refused at submission, naming zod, the path and a remedy', async () => {
  const described = person.describe('a person');
  await refusedInWorkers(() => described.safeParse({ name: 'a', age: 1 }).success, (error) => {
    assert.match(error.message, /`zod`/);
    assert.match(error.message, /captured 'described'/);
    assert.match(error.message, /inside the task, or once per worker/);
  });
});

modules('what was set on a zod schema after construction travels with it (a property, superRefine, a used union)', async () => {
  const changed = z.object({ n: z.number() });
  (changed as unknown as { note: string }).note = 'mine';
  await sameInWorkers((input: unknown) => [outcome(changed.safeParse(input)), (changed as unknown as { note: string }).note], [{ n: 'x' }]);
  // superRefine sets its check's `_zod.check` to the program's function after constructing it.
  const long = z.string().superRefine((s, ctx) => {
    if (s.length < 3) ctx.addIssue({ code: 'custom', message: `short: ${s}` });
  });
  await sameInWorkers((xs: string[]) => xs.map((x) => outcome(long.safeParse(x))), [['ab', 'abcd']]);
  // A discriminated union notes its options' values in their `_zod` on first use.
  const shape = z.discriminatedUnion('kind', [z.object({ kind: z.literal('a'), n: z.number() }), z.object({ kind: z.literal('b'), s: z.string() })]);
  shape.safeParse({ kind: 'a', n: 1 });
  await sameInWorkers((xs: unknown[]) => xs.map((x) => outcome(shape.safeParse(x))), [[{ kind: 'b', s: 1 }, { kind: 'c' }, { kind: 'a', n: 2 }]]);
});

// produce(recipe) closes over immer's one Immer instance (`self`), which no export holds by a
// property but the exported `produceWithPatches` (bound to it) reaches: it travels by reference.
modules("immer's curried produce travels, its Immer instance by reference through an export", async () => {
  await sameInWorkers((n: number) => bump({ n }).n, [1]);
  await sameInWorkers(bump, [{ n: 41 }]);
});

// The curried function lodash builds closes over lodash's internals (createHybrid, createRecurry,
// getHolder...): no export holds them by a property, but `_`'s scope does.
const add3 = (require('lodash') as typeof import('lodash')).curry((a: number, b: number, c: number) => a * 100 + b * 10 + c);
modules("lodash's _.curry result travels, lodash's internals by reference through an export's scope", async () => {
  await sameInWorkers((x: number) => [add3(1)(2)(x), add3(1, 2)(x), add3(1)(2, x)], [3]);
  await sameInWorkers(add3(4), [5, 6]);
});

// A library instance built at run time holds thousands of closures: refused before they are
// captured one by one, with the remedy to build it where it is used.
modules('a mathjs instance is refused early, naming the package and where the capture enters it', async () => {
  await refusedInWorkers(() => math.add(1, 2), (error) => {
    assert.match(error.message, /package `(mathjs|typed-function)`/);
    assert.match(error.message, /captured 'math'/);
    assert.match(error.remedy ?? '', /inside the task, or once per worker/);
    assert.match(error.remedy ?? '', /One resource per worker/);
  });
});

modules('a method of a mathjs instance held in a variable is refused as the instance is', async () => {
  const sqrt = math.sqrt;
  await refusedInWorkers(() => sqrt(2), (error) => {
    assert.match(error.message, /package `(mathjs|typed-function)`/);
    assert.match(error.message, /library instance/);
    assert.match(error.message, /captured 'sqrt'/);
    assert.match(error.remedy ?? '', /One resource per worker/);
  });
});

modules("tsc's CommonJS output: a function reading `exports.x` travels with its module by reference", async () => {
  // The task function is the module's own: it captures `exports`, which holds a WeakSet.
  await sameInWorkers(exportsRefs.remember, [5]);
  await sameInWorkers(exportsRefs.addBase, [5]);
});

modules('an export of a module with top-level await is imported by the worker', async () => {
  await sameInWorkers((x: number) => scale(x), [7]);
});

modules.run();
