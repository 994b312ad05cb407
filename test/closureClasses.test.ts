/**
 * Classes as real programs write them, carried whole: old-style and
 * compiled classes (tsc to ES5 and ES2015 CommonJS, compiled here at test
 * time; Babel's `_inherits` written the way it emits it), prototypes kept
 * by identity, a RegExp's lastIndex, a method bound to its own instance,
 * a parent class whose static holds its subclass, #private fields that
 * tsc downlevelled into WeakMaps, and Intl formatters. Each case runs in a
 * real worker thread and a real child process under the default
 * serializer ('auto'), and is rebuilt by 'closure' in a fresh vm context;
 * the expected value is the same call in this thread.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import ts from 'typescript';
import { transformSync } from 'esbuild';
import { Parallel, delayed } from 'joblet';
import { expectedResults, freshVmSuite, workerSuites, type ClosureCase } from './fixtures/closureCases.js';

const require = createRequire(import.meta.url);

// ---- a TypeScript module, compiled by tsc at test time ------------------------------------
const SOURCE = `
export class Shape {
  static registry = new Map<string, new (size: number) => Shape>();
  static create(kind: string, size: number): Shape {
    const Made = Shape.registry.get(kind)!;
    return new Made(size);
  }
  constructor(public size: number) {}
  get area(): number { return 0; }
  describe(): string { return this.kind + '(' + this.size + ') ' + this.area.toFixed(2); }
  get kind(): string { return 'shape'; }
}
export class Circle extends Shape {
  get area(): number { return Math.PI * this.size * this.size; }
  get kind(): string { return 'circle'; }
}
export class Square extends Shape {
  static sides = 4;
  get area(): number { return this.size * this.size; }
  get kind(): string { return 'square'; }
}
Shape.registry.set('circle', Circle);
Shape.registry.set('square', Square);

export class Tally {
  #n = 0;
  #step: number;
  static #made = 0;
  constructor(step: number) { this.#step = step; Tally.#made++; }
  inc(): number { this.#n += this.#step; return this.#n; }
  #label(): string { return 'n=' + this.#n; }
  peek(): string { return this.#label(); }
  get count(): number { return this.#n; }
  static made(): number { return Tally.#made; }
}

export class Button {
  constructor(public label: string) { this.onClick = this.onClick.bind(this); }
  onClick(): string { return 'clicked ' + this.label; }
}
`;

interface Compiled {
  Shape: { new (size: number): { describe(): string; area: number; size: number }; create(kind: string, size: number): { describe(): string }; registry: Map<string, unknown> };
  Circle: Compiled['Shape'];
  Square: Compiled['Shape'] & { sides: number };
  Tally: { new (step: number): { inc(): number; peek(): string; count: number }; made(): number };
  Button: new (label: string) => { label: string; onClick(): string };
}

const dir = mkdtempSync(join(tmpdir(), 'joblet-classes-'));
function compiled(target: 'ES5' | 'ES2015'): Compiled {
  const { outputText } = ts.transpileModule(SOURCE, { compilerOptions: { target: ts.ScriptTarget[target], module: ts.ModuleKind.CommonJS, strict: true } });
  const file = join(dir, `shapes.${target}.cjs`);
  writeFileSync(file, outputText);
  return require(file) as Compiled;
}
const es5 = compiled('ES5');
const es2015 = compiled('ES2015');
// esbuild lowers #private to WeakMaps and WeakSets with helpers of its own (__privateGet...) below ES2022.
const esbuildFile = join(dir, 'shapes.esbuild.cjs');
writeFileSync(esbuildFile, transformSync(SOURCE, { loader: 'ts', format: 'cjs', target: 'es2020' }).code);
const esb = require(esbuildFile) as Compiled;

// ---- old-style classes written by hand ----------------------------------------------------
function Vec(this: { x: number; y: number }, x: number, y: number) {
  this.x = x;
  this.y = y;
}
Object.defineProperty(Vec.prototype, 'length', { get(this: { x: number; y: number }) { return Math.hypot(this.x, this.y); }, enumerable: false, configurable: true });
Object.defineProperty(Vec.prototype, 'scaled', { value(this: { x: number; y: number }, k: number) { return new (Vec as any)(this.x * k, this.y * k); }, writable: true, configurable: true });
Object.defineProperty(Vec, 'UNIT', { value: 'unit vector', enumerable: false });
(Vec as any).of = function (x: number) { return new (Vec as any)(x, x); };

// Babel's _inherits, as it emits it.
function _setPrototypeOf(o: object, p: object): object {
  return Object.setPrototypeOf(o, p);
}
function _inherits(subClass: any, superClass: any) {
  subClass.prototype = Object.create(superClass && superClass.prototype, { constructor: { value: subClass, writable: true, configurable: true } });
  Object.defineProperty(subClass, 'prototype', { writable: false });
  if (superClass) _setPrototypeOf(subClass, superClass);
}
const Vec3 = (function (_Vec: any) {
  _inherits(Vec3, _Vec);
  function Vec3(this: { z: number }, x: number, y: number, z: number) {
    _Vec.call(this, x, y);
    this.z = z;
  }
  Object.defineProperty(Vec3.prototype, 'depth', { get(this: { z: number }) { return this.z; }, configurable: true });
  return Vec3;
})(Vec) as any;

// ---- prototypes, RegExp, natives ----------------------------------------------------------
const greeter = { greet(this: { name: string }) { return `hi ${this.name}`; } };
const ann = Object.create(greeter) as { name: string; greet(): string };
ann.name = 'ann';
const bob = Object.create(greeter) as { name: string; greet(): string };
bob.name = 'bob';

const vowels = /[aeiou]/g;
vowels.exec('joblet');

class Registry {
  static kinds = new Map<string, typeof Registry>();
  kind(): string {
    return 'base';
  }
}
class Entry extends Registry {
  override kind(): string {
    return 'entry';
  }
}
Registry.kinds.set('entry', Entry);

class TreeNode {
  static leaf(): TreeNode {
    return new Leaf();
  }
  kind(): string {
    return 'node';
  }
}
class Leaf extends TreeNode {
  override kind(): string {
    return 'leaf';
  }
}

const formats = {
  number: new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' }),
  date: new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeZone: 'UTC' }),
  collator: new Intl.Collator('de', { sensitivity: 'base' }),
  plural: new Intl.PluralRules('en', { type: 'ordinal' }),
  relative: new Intl.RelativeTimeFormat('es', { numeric: 'auto' }),
  list: new Intl.ListFormat('en', { type: 'disjunction' }),
  segmenter: new Intl.Segmenter('en', { granularity: 'word' }),
};

// Instances made before sending: their state is what travels (the cases only read it).
const MODULES = { 'tsc ES5': es5, 'tsc ES2015': es2015, 'esbuild es2020': esb };
type Target = keyof typeof MODULES;
const each = <T>(make: (m: Compiled) => T) => Object.fromEntries(Object.entries(MODULES).map(([target, m]) => [target, make(m)])) as Record<Target, T>;
const tallies = each((m) => new m.Tally(2));
const argTallies = each((m) => new m.Tally(5));
for (const t of [...Object.values(tallies), ...Object.values(argTallies)]) t.inc();
const buttons = each((m) => new m.Button('ok'));
const squares = each((m) => new m.Square(3));

const CASES: ClosureCase[] = [
  { name: 'defineProperty getter and method on an old-style prototype', fn: () => [new (Vec as any)(3, 4).length, new (Vec as any)(1, 2).scaled(2).length] },
  { name: 'non-enumerable and enumerable statics of an old-style class', fn: () => [(Vec as any).UNIT, (Vec as any).of(2).length] },
  { name: "Babel's _inherits: instanceof, inherited getter, statics through setPrototypeOf", fn: () => { const v = new Vec3(3, 4, 5); return [v instanceof Vec3, v instanceof Vec, v.length, v.depth, Vec3.UNIT, Vec3.of(1) instanceof Vec]; } },
  { name: 'Object.create(proto) keeps the one prototype', fn: () => [Object.getPrototypeOf(ann) === greeter, Object.getPrototypeOf(bob) === greeter, ann.greet(), bob.greet()] },
  { name: "a RegExp's lastIndex", fn: () => [vowels.lastIndex, vowels.global] },
  { name: 'a RegExp with a lastIndex as an argument', fn: (re: RegExp) => re.lastIndex, args: [vowels] },
  { name: 'a static that holds a subclass (class registry)', fn: () => { const Made = Registry.kinds.get('entry')!; return [new Made().kind(), new Made() instanceof Registry, Made === Entry]; } },
  { name: 'a parent whose static method makes its subclass', fn: () => [TreeNode.leaf().kind(), TreeNode.leaf() instanceof TreeNode] },
  { name: 'Intl formatters', fn: () => [formats.number.format(1234.5), formats.date.format(0), formats.collator.compare('a', 'ä'), formats.plural.select(2), formats.relative.format(-1, 'day'), formats.list.format(['a', 'b']), [...formats.segmenter.segment('one two')].length, formats.number.resolvedOptions().currency] },
  { name: 'an Intl formatter as an argument', fn: (f: Intl.NumberFormat) => f.format(2.5), args: [formats.number] },
];
for (const [target, m] of Object.entries(MODULES) as [Target, Compiled][]) {
  const tally = tallies[target];
  const argTally = argTallies[target];
  const button = buttons[target];
  const square = squares[target];
  CASES.push(
    { name: `${target}: a static registry of subclasses, getters through the chain`, fn: () => [m.Shape.create('circle', 2).describe(), m.Shape.create('square', 3).describe()] },
    { name: `${target}: instanceof and inherited statics`, fn: () => { const c = new m.Circle(1); return [c instanceof m.Shape, c instanceof m.Circle, m.Square.sides, (m.Circle as any).create === m.Shape.create]; } },
    { name: `${target}: a captured instance of a subclass`, fn: () => [square.area, (square as any).describe(), square instanceof m.Shape] },
    { name: `${target}: a method bound to its own instance`, fn: () => { const click = button.onClick; return [button.onClick(), click()]; } },
    { name: `${target}: #private fields of a captured instance`, fn: () => [tally.count, tally.peek()] },
    { name: `${target}: #private fields of an instance made in the task`, fn: () => { const t = new m.Tally(3); t.inc(); return [t.inc(), t.peek(), t.count]; } },
    { name: `${target}: #private fields of an instance passed as an argument`, fn: (t: { count: number; peek(): string }) => [t.count, t.peek(), t instanceof m.Tally], args: [argTally] },
  );
}

const expected = await expectedResults(CASES);
workerSuites((backend) => `classes in a ${backend} worker`, CASES, expected);
freshVmSuite("classes rebuilt by 'closure' in a fresh vm context", CASES, expected);

const back = suite('instances with downlevelled #private state come back from the worker with it');
for (const backend of ['threads', 'processes'] as const) {
  for (const [target, m] of Object.entries(MODULES) as [Target, Compiled][]) {
    back(`${target} on ${backend}: a result made in the task, and an argument changed there`, async () => {
      const parallel = new Parallel({ backend, nJobs: 1 });
      try {
        const sent = new m.Tally(4);
        sent.inc();
        const [made, changed] = (await parallel.run([
          delayed(() => { const t = new m.Tally(3); t.inc(); return t; })(),
          delayed((t: InstanceType<Compiled['Tally']>) => { t.inc(); return t; })(sent),
        ])) as InstanceType<Compiled['Tally']>[];
        const local = new m.Tally(3);
        local.inc();
        const twice = new m.Tally(4);
        twice.inc();
        twice.inc();
        assert.equal([made instanceof m.Tally, made!.count, made!.peek(), made!.inc()], [true, local.count, local.peek(), local.inc()]);
        assert.equal([changed instanceof m.Tally, changed!.count, changed!.peek(), sent.count], [true, twice.count, twice.peek(), 4]);
      } finally {
        await parallel.close();
      }
    });
  }
}
back.after(() => rmSync(dir, { recursive: true, force: true }));
back.run();
