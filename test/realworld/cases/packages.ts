/**
 * Functions and values from installed packages, captured as users capture
 * them: lodash (CommonJS, keeps built-in methods at module level), lodash-es
 * (the same as ES modules), zod and immer (ES-module code with private
 * WeakMaps). mathjs, the large library instance, has its own file
 * (mathjs.ts), so the probe of its heavy cases loads nothing else.
 */
import { createRequire } from 'node:module';
import { chunk as chunkEs, curry as curryEs, memoize as memoizeEs, uniqBy as uniqByEs, partial as partialEs } from 'lodash-es';
import { z } from 'zod';
import { produce } from 'immer';
import type { Case } from '../case.js';

const require = createRequire(import.meta.url);
const _ = require('lodash') as typeof import('lodash');

// ---- lodash (CommonJS) ------------------------------------------------------------------
const square = _.memoize((n: number) => n * n);
const add3 = _.curry((a: number, b: number, c: number) => a + b + c);
const greet = _.partial((greeting: string, name: string) => `${greeting} ${name}`, 'hi');
const pipeline = _.flow([(x: number) => x + 1, (x: number) => x * 2]);
const template = _.template('hello <%= user %>!');
const isEqual = _.isEqual;

// ---- lodash-es (ES modules) -------------------------------------------------------------
const squareEs = memoizeEs((n: number) => n * n);
const add3Es = curryEs((a: number, b: number, c: number) => a + b + c);
const greetEs = partialEs((greeting: string, name: string) => `${greeting} ${name}`, 'hey');

// ---- zod -------------------------------------------------------------------------------
const User = z.object({ name: z.string().min(1), age: z.number().int().min(0), tags: z.array(z.string()).default([]) });
const Csv = z.string().transform((s) => s.split(',').map(Number));

// ---- immer -----------------------------------------------------------------------------
const addItem = produce((draft: { items: number[] }, item: number) => {
  draft.items.push(item);
});

export function packageCases(): Case[] {
  return [
    { name: 'lodash: _.memoize result captured', source: 'lodash', fn: (n: number) => square(n) + square(n), args: [7] },
    { name: 'lodash: _.curry result captured', source: 'lodash', fn: (x: number) => add3(1)(2)(x), args: [3] },
    { name: 'lodash: _.partial result sent as the task', source: 'lodash', fn: greet, args: ['ada'] },
    { name: 'lodash: _.flow pipeline sent as the task', source: 'lodash', fn: pipeline, args: [3] },
    { name: 'lodash: _.chunk sent as the task', source: 'lodash', fn: _.chunk, args: [[1, 2, 3, 4, 5], 2] },
    { name: 'lodash: the _ object captured', source: 'lodash', fn: (xs: number[]) => _.groupBy(xs, Math.floor), args: [[1.1, 1.5, 2.3]] },
    { name: 'lodash: _.sortBy over objects', source: 'lodash', fn: (users: Array<{ name: string; age: number }>) => _.sortBy(users, ['age']).map((u) => u.name), args: [[{ name: 'b', age: 9 }, { name: 'a', age: 3 }]] },
    { name: 'lodash: a compiled _.template captured', source: 'lodash', fn: (user: string) => template({ user }), args: ['ada'] },
    { name: 'lodash: _.isEqual held in a variable', source: 'lodash', fn: (a: unknown, b: unknown) => isEqual(a, b), args: [{ x: [1, 2] }, { x: [1, 2] }] },

    { name: 'lodash-es: chunk sent as the task', source: 'lodash-es', fn: chunkEs, args: [[1, 2, 3, 4, 5], 2] },
    { name: 'lodash-es: memoize result captured', source: 'lodash-es', fn: (n: number) => squareEs(n) + squareEs(n), args: [5] },
    { name: 'lodash-es: curry result captured', source: 'lodash-es', fn: (x: number) => add3Es(1, 2)(x), args: [4] },
    { name: 'lodash-es: partial result sent as the task', source: 'lodash-es', fn: greetEs, args: ['bob'] },
    { name: 'lodash-es: uniqBy imported and used', source: 'lodash-es', fn: (xs: Array<{ id: number }>) => uniqByEs(xs, 'id').length, args: [[{ id: 1 }, { id: 1 }, { id: 2 }]] },

    { name: 'zod: a captured schema parses the argument', source: 'zod', fn: (input: unknown) => User.parse(input), args: [{ name: 'ada', age: 36 }] },
    { name: 'zod: safeParse issues of a bad argument', source: 'zod', fn: (input: unknown) => { const r = User.safeParse(input); return r.success ? 'ok' : r.error.issues.map((i) => `${i.path.join('.')}:${i.code}`); }, args: [{ name: '', age: -1 }] },
    { name: 'zod: a schema with a transform', source: 'zod', fn: (s: string) => Csv.parse(s), args: ['1,2,3'] },
    { name: 'zod: z captured, schema built in the task', source: 'zod', fn: (s: unknown) => z.string().email().safeParse(s).success, args: ['a@b.co'] },

    { name: 'immer: produce captured', source: 'immer', fn: (state: { items: number[] }) => produce(state, (draft) => { draft.items.push(4); }), args: [{ items: [1, 2, 3] }] },
    { name: 'immer: curried produce(recipe) captured', source: 'immer', fn: (state: { items: number[] }, x: number) => addItem(state, x), args: [{ items: [1] }, 2] },
    { name: 'immer: curried produce(recipe) sent as the task', source: 'immer', fn: addItem, args: [{ items: [5] }, 6] },
  ];
}
