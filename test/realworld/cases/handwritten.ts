/**
 * Hand-written programs of each kind issue 13 lists (items 1-12), written the
 * way real code writes them: built-in methods held in variables, ES5
 * constructor functions with Object.defineProperty members and
 * Object.create inheritance, Object.create(proto) objects, a RegExp with a
 * lastIndex, a method bound in the constructor, Intl formatters, closures
 * sharing one `let`, a captured array a task mutates, a top-level-await
 * module, and a task that throws.
 */
import type { Case } from '../case.js';

/** What the worker's stack must name for the throwing case: this file. */
export const THIS_FILE = 'realworld/cases/handwritten';

// ---- 1. built-in methods held in variables (lodash keeps exactly these) -------------------
const hasOwn = Object.prototype.hasOwnProperty;

// A module-level counter whose functions may travel in the task function, in its arguments, or both.
let clicks = 0;
const click = (): number => ++clicks;
const clickCount = (): number => clicks;
const slice = Array.prototype.slice;
const toString = Object.prototype.toString;
const call = Function.prototype.call;
const iteratorSymbol = Symbol.iterator;
const { max, min } = Math;
const isArray = Array.isArray;
const push = ([] as number[]).push;

// ---- 2. ES5 constructor functions ---------------------------------------------------------
interface MoneyLike {
  cents: number;
  readonly dollars: number;
  add(other: MoneyLike): MoneyLike;
}
const Money = function (this: MoneyLike, cents: number) {
  this.cents = cents;
} as unknown as { new (cents: number): MoneyLike; create(cents: number): MoneyLike; readonly LABEL: string; prototype: MoneyLike };
Object.defineProperty(Money.prototype, 'dollars', {
  get(this: MoneyLike) {
    return this.cents / 100;
  },
  enumerable: false,
  configurable: true,
});
Object.defineProperty(Money.prototype, 'add', {
  value(this: MoneyLike, other: MoneyLike) {
    return new Money(this.cents + other.cents);
  },
  writable: true,
  configurable: true,
});
Object.defineProperty(Money, 'LABEL', { value: 'money', enumerable: false });
Money.create = function (cents: number) {
  return new Money(cents);
};
// tsc's __extends and Babel's _inherits: prototype through Object.create, statics through setPrototypeOf.
const Euro = function (this: MoneyLike, cents: number) {
  (Money as unknown as Function).call(this, cents);
} as unknown as { new (cents: number): MoneyLike & { readonly symbol: string }; create(cents: number): MoneyLike };
Euro.prototype = Object.create(Money.prototype, { constructor: { value: Euro, writable: true, configurable: true } });
Object.setPrototypeOf(Euro, Money);
Object.defineProperty(Euro.prototype, 'symbol', { get: () => 'EUR', configurable: true });
const euro = new Euro(199);

// ---- 3. prototypes and object details ----------------------------------------------------
const greeter = {
  greet(this: { name: string }) {
    return `hi ${this.name}`;
  },
};
const ada = Object.create(greeter) as { name: string; greet(): string };
ada.name = 'ada';
const dict = Object.create(null) as Record<string, number>;
dict.a = 1;
const settings = {} as { readonly secret: number };
Object.defineProperty(settings, 'secret', { value: 7, enumerable: false });
const FROZEN = Object.freeze({ level: 3 });
const TAG = Symbol('tag');
const tagged = { [TAG]: 'yes' };

class Button {
  constructor(readonly label: string) {
    this.onClick = this.onClick.bind(this);
  }
  onClick(): string {
    return `clicked ${this.label}`;
  }
}
const button = new Button('ok');
const onClick = button.onClick;

class Widget {
  static kinds = new Map<string, new () => Widget>();
  static of(kind: string): Widget {
    return new (Widget.kinds.get(kind)!)();
  }
  name(): string {
    return 'widget';
  }
}
class Slider extends Widget {
  override name(): string {
    return `slider < ${super.name()}`;
  }
}
Widget.kinds.set('slider', Slider);

class Bag {
  items = [1, 2, 3];
  *[Symbol.iterator]() {
    yield* this.items;
  }
}
const bag = new Bag();

class Defaults {
  static retries: number;
  static {
    Defaults.retries = 3;
  }
}

// ---- 5. private fields as tsc below ES2022 writes them: a module-level WeakMap ---------------
const _Meter_reading = new WeakMap<object, number>();
class Meter {
  constructor(reading: number) {
    _Meter_reading.set(this, reading);
  }
  get reading(): number {
    return _Meter_reading.get(this)!;
  }
}
const meter = new Meter(42);

// ---- 10. Intl objects --------------------------------------------------------------------
const euros = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' });
const dates = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', dateStyle: 'medium' });
const collator = new Intl.Collator('de');

// ---- other shapes real code has ----------------------------------------------------------
const ops = new Map<string, (a: number, b: number) => number>([
  ['add', (a, b) => a + b],
  ['mul', (a, b) => a * b],
]);
const weights = new Float64Array([0.5, 0.25, 0.25]);
const nextTick = () => new Promise((resolve) => setTimeout(resolve, 0));

// ---- 12. a task that throws ----------------------------------------------------------------
function parseAmount(text: string): number {
  if (!/^\d+$/.test(text)) throw new RangeError(`not an amount: ${text}`);
  return Number(text);
}

export async function handwrittenCases(): Promise<Case[]> {
  // 7. a module with top-level await, loaded as the program loads it.
  const { lookup } = await import('../fixture/tla.js');
  const h = (name: string, rest: Omit<Case, 'name' | 'source'>): Case => ({ name: `handwritten: ${name}`, source: 'handwritten', ...rest });
  return [
    h('Object.prototype.hasOwnProperty held in a variable', { fn: (o: object) => [hasOwn.call(o, 'a'), hasOwn.call(o, 'b')], args: [{ a: 1 }] }),
    h('Array.prototype.slice held in a variable, on arguments', { fn: function (this: unknown) { return slice.call(arguments, 1); }, args: [1, 2, 3] }),
    h('Function.prototype.call and Object.prototype.toString held', { fn: (v: unknown) => call.call(toString, v), args: [[1]] }),
    h('Symbol.iterator held in a variable', { fn: (v: unknown) => typeof (v as Record<symbol, unknown>)[iteratorSymbol], args: ['abc'] }),
    h('Math.max and Math.min destructured', { fn: (xs: number[]) => [max(...xs), min(...xs)], args: [[3, 1, 2]] }),
    h('Array.isArray and [].push held', { fn: (xs: number[]) => { const out: number[] = []; push.call(out, ...xs); return [isArray(out), out]; }, args: [[4, 5]] }),

    h('ES5 constructor: defineProperty getter, method, non-enumerable static', { fn: () => { const m = new Money(250); return [m.dollars, m.add(new Money(5)).cents, Money.LABEL]; } }),
    h('ES5 inheritance through Object.create and setPrototypeOf', { fn: () => { const e = new Euro(120); return [e.dollars, e.symbol, e instanceof Money, e instanceof Euro]; } }),
    h('ES5 static inherited through setPrototypeOf', { fn: () => Euro.create(7).dollars }),
    h('ES5 subclass instance captured', { fn: () => [euro.symbol, euro.dollars, euro instanceof Money] }),

    h('Object.create(proto) keeps its prototype', { fn: () => [ada.greet(), Object.getPrototypeOf(ada) === greeter] }),
    h('Object.create(null) dictionary', { fn: () => [Object.getPrototypeOf(dict) === null, dict.a] }),
    h('non-enumerable own property', { fn: () => settings.secret }),
    h('frozen object stays frozen', { fn: () => [Object.isFrozen(FROZEN), FROZEN.level] }),
    h('symbol-keyed property', { fn: () => tagged[TAG] }),
    h('RegExp with lastIndex', { fresh: () => { const re = /a/g; re.lastIndex = 2; return () => [re.lastIndex, re.exec('aaaa')?.index]; } }),
    h('method bound in the constructor, called on the instance', { fn: () => button.onClick() }),
    h('method bound in the constructor, held alone', { fn: () => onClick() }),
    h('class registry holding its subclass in a static Map', { fn: () => { const w = Widget.of('slider'); return [w.name(), w instanceof Slider]; } }),
    h('class with a Symbol.iterator generator method', { fn: () => [...bag] }),
    h('class static block', { fn: () => Defaults.retries }),

    h('downlevelled #private: instance in a module WeakMap', { fn: () => meter.reading }),
    h('downlevelled #private: class made anew in the task', { fn: () => new Meter(5).reading }),

    h('top-level-await module export', { fn: lookup, args: ['b'] }),

    h('two closures sharing one let', {
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
    }),

    // The answers are written out: the same call here would change the counter the workers' copies start from.
    h('a module let shared by functions passed together as arguments', { fn: (a: () => number, b: () => number) => { a(); a(); return b(); }, args: [click, clickCount], expect: 2 }),
    h('a module let the task function reads and its argument assigns (two payloads: refused)', { fn: (f: () => number) => { f(); f(); return clickCount(); }, args: [click], expect: 2 }),

    h('Intl.NumberFormat', { fn: (x: number) => euros.format(x), args: [1234.5] }),
    h('Intl.DateTimeFormat', { fn: () => dates.format(new Date(Date.UTC(2020, 0, 2))) }),
    h('Intl.Collator compare as a sort key', { fn: (xs: string[]) => [...xs].sort(collator.compare), args: [['z', 'ä', 'a']] }),

    h('captured array a task mutates: the second run sees it as submitted', {
      fresh: () => {
        const seen = [0, 1, 2];
        return () => {
          const first = seen[0];
          seen[0] = 99;
          return first;
        };
      },
      runs: 2,
    }),
    h('captured Map a task mutates: the second run sees it as submitted', {
      fresh: () => {
        const hits = new Map([['a', 0]]);
        return () => {
          const before = hits.get('a');
          hits.set('a', before! + 1);
          return before;
        };
      },
      runs: 2,
    }),

    h('Map of functions', { fn: (op: string, a: number, b: number) => ops.get(op)!(a, b), args: ['mul', 6, 7] }),
    h('captured Float64Array', { fn: (xs: number[]) => xs.reduce((s, x, i) => s + x * weights[i]!, 0), args: [[4, 8, 12]] }),
    h('async arrow awaiting a captured helper', { fn: async (x: number) => { await nextTick(); return x * 2; }, args: [21] }),

    h('a task that throws names its file in the stack', { fn: parseAmount, args: ['12x'], throwsFrom: THIS_FILE }),
  ];
}
