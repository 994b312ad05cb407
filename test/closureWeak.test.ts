/**
 * WeakMaps and WeakSets carried exactly: as the entries whose key travels
 * (an object or function of the same snapshot, or a value the worker has
 * itself, such as a built-in), since no code in the worker can hold any
 * other key. Each case runs in a real worker thread and a real child
 * process under the default serializer, and is rebuilt by 'closure' in a
 * fresh vm context; the expected value is the same call in this thread.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { transformSync } from 'esbuild';
import { Parallel, delayed } from 'joblet';
import { encodeGraph } from '../src/closure/codec.js';
import { expectedResults, freshVmSuite, workerSuites, type ClosureCase } from './fixtures/closureCases.js';

const require = createRequire(import.meta.url);

// ---- a module-level cache keyed by objects, as memoize-weak keeps one ----------------------
interface Point {
  x: number;
  y: number;
}
const lengths = new WeakMap<Point, number>();
function length(p: Point): number {
  let known = lengths.get(p);
  if (known === undefined) lengths.set(p, (known = Math.hypot(p.x, p.y)));
  return known;
}
const p34 = { x: 3, y: 4 };
const p512 = { x: 5, y: 12 };
length(p34);
length(p512);
// A cached value the worker could not compute again: only the entry can answer 'stale'.
lengths.set(p512, -1);

// The same cache reached a second way.
const tables = { lengths };

// ---- a WeakSet brand check -----------------------------------------------------------------
const validated = new WeakSet<object>();
function validate<T extends object>(value: T): T {
  validated.add(value);
  return value;
}
const order = validate({ id: 7 });
const draft = { id: 8 };

// ---- entries keyed by values the worker has itself, reached by no other path ---------------
const describes = new WeakMap<object, string>([[Math, 'math'], [Object.prototype, 'object prototype']]);

// ---- a global cache whose keys stay behind: 100,000 entries, two of which travel ------------
const big = new WeakMap<object, number>();
const held: object[] = [];
for (let i = 0; i < 100_000; i++) {
  const key = { i };
  held.push(key);
  big.set(key, i);
}
const near = held[10]!;
const far = held[99_999]!;

// ---- esbuild's lowering of #private below ES2022, minified (a WeakMap named `o`, helpers `a`, `f`) ----
const dir = mkdtempSync(join(tmpdir(), 'joblet-weak-'));
const CLASS_SOURCE = `
export class Account {
  #balance: number;
  #log: string[] = [];
  static #opened = 0;
  constructor(balance: number) { this.#balance = balance; Account.#opened++; }
  #note(what: string) { this.#log.push(what); }
  deposit(n: number): this { this.#balance += n; this.#note('+' + n); return this; }
  get balance(): number { return this.#balance; }
  get history(): string { return this.#log.join(','); }
  static get opened(): number { return Account.#opened; }
  static isAccount(value: object): boolean { return #balance in value; }
}
`;
interface Account {
  deposit(n: number): Account;
  balance: number;
  history: string;
}
let Account: { new (balance: number): Account; opened: number; isAccount(value: object): boolean };
try {
  const file = join(dir, 'account.esbuild.min.cjs');
  writeFileSync(file, transformSync(CLASS_SOURCE, { loader: 'ts', format: 'cjs', target: 'es2020', minify: true }).code);
  ({ Account } = require(file) as { Account: typeof Account });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const account = new Account(10).deposit(5);

const CASES: ClosureCase[] = [
  { name: 'a module-level WeakMap cache keyed by captured objects', fn: () => [length(p34), length(p512), length({ x: 6, y: 8 })] },
  { name: 'a WeakSet brand check of a captured object, and of objects made in the task', fn: () => [validated.has(order), validated.has(draft), validated.has({ id: 7 }), validated.has(validate({ id: 9 }))] },
  { name: 'a WeakSet brand check of an argument', fn: (value: object) => validated.has(value), args: [order] },
  { name: 'entries keyed by built-ins the worker has itself', fn: () => [describes.get(Math), describes.get(Object.prototype), describes.has(JSON)] },
  { name: 'a WeakMap of 100,000 entries: those whose keys travel', fn: () => [big.get(near), big.get(far), big.has({ i: 10 })] },
  { name: 'a WeakMap reached twice is one collection', fn: () => [tables.lengths === lengths, tables.lengths.get(p34), length(p512)] },
  { name: 'esbuild-lowered, minified #private: a captured instance', fn: () => [account.balance, account.history, Account.isAccount(account), Account.isAccount({})] },
  { name: 'esbuild-lowered, minified #private: an instance made in the task', fn: () => { const made = new Account(1).deposit(2); return [made.balance, made.history, Account.isAccount(made), Account.opened > 0]; } },
  { name: 'esbuild-lowered, minified #private: an instance as an argument', fn: (a: Account) => [a.balance, a.history, a instanceof Account], args: [account] },
];

const expected = await expectedResults(CASES);
workerSuites((backend) => `weak collections in a ${backend} worker`, CASES, expected, {
  more: (test, _parallel, backend) => {
    test('each run sees the entries as at its submission: what a task added is gone in the next run', async () => {
      const marks = new WeakSet<object>();
      const one = new Parallel({ backend, nJobs: 1 });
      try {
        // Math and JSON are the worker's own: a run that marks them must not leak into the next.
        const mark = () => {
          const before = [marks.has(Math), marks.has(JSON)];
          marks.add(Math);
          return before;
        };
        marks.add(JSON);
        assert.equal(await one.run([delayed(mark)()]), [[false, true]]);
        assert.equal(await one.run([delayed(mark)()]), [[false, true]]);
      } finally {
        await one.close();
      }
    });
  },
});
freshVmSuite("weak collections rebuilt by 'closure' in a fresh vm context", CASES, expected);

const carried = suite('what a weak collection carries');

carried('only the entries whose keys travel, read without enumerating the collection', () => {
  const started = performance.now();
  const graph = encodeGraph(() => [big.get(near), big.get(far)]);
  const ms = performance.now() - started;
  const weak = graph.nodes.filter((node) => node.t === 'weak');
  assert.is(weak.length, 1);
  assert.is(weak[0]!.t === 'weak' && weak[0]!.entries.length, 2);
  if (process.env.JOBLET_TEST_TIMES) console.log(`  a 100,000-entry WeakMap: encoded in ${ms.toFixed(1)} ms`);
});

carried('a WeakMap subclass is refused with its path, not carried without its methods', async () => {
  class Registry extends WeakMap<object, string> {
    describe(key: object): string {
      return this.get(key) ?? 'unknown';
    }
  }
  const names = new Registry();
  const parallel = new Parallel({ backend: 'inline' });
  try {
    await parallel.run([delayed(() => names.describe({}))()]).then(
      () => assert.unreachable('a WeakMap subclass was carried'),
      (error: { path: string; problem: string }) => {
        assert.is(error.path, "fn -> captured 'names'");
        assert.match(error.problem, 'prototype or own properties');
      },
    );
  } finally {
    await parallel.close();
  }
});

carried.run();
