/**
 * Hostile values for the fuzzer, as recipes: plain data that fast-check generates (and a
 * failure prints as its reproducer), and `build` turns into the value itself, the same on
 * the main thread and in a worker. Each kind is something a careful user's data may hold
 * and that a serializer or a walk of user data may choke on.
 */
import fc from 'fast-check';

export type Recipe =
  | ['undefined'] | ['null'] | ['boolean', boolean]
  /** A number as text, so -0, NaN and Infinity survive JSON (the recipe's own transport). */
  | ['number', string]
  | ['string', string] | ['bigint', string]
  /** A string of `n` characters (megabytes). */
  | ['hugeString', number]
  /** A Date from its time, or an invalid one (null). */
  | ['date', number | null]
  | ['symbol', string, boolean]
  | ['typed', TypedName, number[]]
  /** An array of `length` with elements only at the given indices (length up to 2^32-1). */
  | ['sparse', number, Array<[number, Recipe]>]
  /** A dense array of `n` small integers. */
  | ['dense', number]
  | ['array', Recipe[]]
  | ['object', Array<[string, Recipe]>, Proto]
  | ['symbolKey', string, Recipe]
  /** An object whose enumerable property `x` is a getter that throws (or returns 1). */
  | ['getter', boolean]
  /** A Proxy of the value; its traps throw when `hostile`. */
  | ['proxy', Recipe, boolean]
  | ['revokedProxy']
  | ['map', Array<[Recipe, Recipe]>]
  | ['set', Recipe[]]
  /** A Map that holds itself, and an object that holds that Map: a cycle through a Map. */
  | ['mapCycle', Recipe]
  /** An object that holds itself. */
  | ['cycle', Recipe]
  /** The value nested `depth` levels deep in arrays, objects or Maps. */
  | ['deep', number, 'array' | 'object' | 'map', Recipe]
  /** The same object twice: identity shared within one value. */
  | ['shared', Recipe]
  | ['regexp', string, string]
  | ['error', string]
  | ['function', number]
  | ['instance', number, number];

export type TypedName = 'Uint8Array' | 'Int32Array' | 'Float64Array' | 'BigInt64Array';
export type Proto = 'plain' | 'null' | 'inherits' | 'frozen';

/** A class of this module's: the closure codec carries it, data serializers lose or refuse it. */
export class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

const numberText = (n: number) => (Object.is(n, -0) ? '-0' : String(n));
const key = fc.oneof(fc.constantFrom('a', 'b', '__proto__', 'constructor', 'toJSON', '0', '1e3', ''), fc.string({ maxLength: 6 }));

const leaf: fc.Arbitrary<Recipe> = fc.oneof(
  fc.constant<Recipe>(['undefined']),
  fc.constant<Recipe>(['null']),
  fc.boolean().map((b): Recipe => ['boolean', b]),
  fc.oneof(fc.double(), fc.constantFrom(-0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 31))).map((n): Recipe => ['number', numberText(n)]),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s): Recipe => ['string', s]),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((b): Recipe => ['bigint', b.toString()]),
  fc.option(fc.integer({ min: -8.64e15, max: 8.64e15 }), { nil: null }).map((t): Recipe => ['date', t]),
  fc.tuple(fc.string({ maxLength: 5 }), fc.boolean()).map(([d, reg]): Recipe => ['symbol', d, reg]),
  fc.tuple(fc.constantFrom<TypedName>('Uint8Array', 'Int32Array', 'Float64Array', 'BigInt64Array'), fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 8 })).map(
    ([t, xs]): Recipe => ['typed', t, xs],
  ),
  fc.constant<Recipe>(['revokedProxy']),
  fc.boolean().map((throws): Recipe => ['getter', throws]),
  fc.tuple(fc.string({ maxLength: 4 }), fc.constantFrom('', 'g', 'iu', 'y')).map(([s, f]): Recipe => ['regexp', s.replace(/[\\[\](){}.*+?^$|]/g, ''), f]),
  fc.string({ maxLength: 8 }).map((m): Recipe => ['error', m]),
  fc.integer({ min: 0, max: 2 }).map((n): Recipe => ['function', n]),
  fc.tuple(fc.integer(), fc.integer()).map(([x, y]): Recipe => ['instance', x, y]),
);

/** Large ones, rarer: they cost time. */
const huge: fc.Arbitrary<Recipe> = fc.oneof(
  fc.integer({ min: 1 << 20, max: 4 << 20 }).map((n): Recipe => ['hugeString', n]),
  fc.integer({ min: 10_000, max: 200_000 }).map((n): Recipe => ['dense', n]),
);

const recipe: fc.Arbitrary<Recipe> = fc.letrec<{ value: Recipe }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: leaf, weight: 12 },
    { arbitrary: huge, weight: 1 },
    { arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((xs): Recipe => ['array', xs]), weight: 3 },
    {
      arbitrary: fc
        .tuple(fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }), fc.constantFrom<Proto>('plain', 'null', 'inherits', 'frozen'))
        .map(([entries, proto]): Recipe => ['object', entries, proto]),
      weight: 3,
    },
    { arbitrary: fc.tuple(fc.string({ maxLength: 4 }), tie('value')).map(([d, v]): Recipe => ['symbolKey', d, v]), weight: 1 },
    { arbitrary: fc.tuple(tie('value'), fc.boolean()).map(([v, hostile]): Recipe => ['proxy', v, hostile]), weight: 1 },
    { arbitrary: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((es): Recipe => ['map', es]), weight: 1 },
    { arbitrary: fc.array(tie('value'), { maxLength: 3 }).map((xs): Recipe => ['set', xs]), weight: 1 },
    { arbitrary: tie('value').map((v): Recipe => ['mapCycle', v]), weight: 1 },
    { arbitrary: tie('value').map((v): Recipe => ['cycle', v]), weight: 1 },
    { arbitrary: tie('value').map((v): Recipe => ['shared', v]), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.constantFrom(10, 1000, 20_000), fc.constantFrom<'array' | 'object' | 'map'>('array', 'object', 'map'), tie('value'))
        .map(([d, how, v]): Recipe => ['deep', d, how, v]),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(fc.constantFrom(70_000, 2 ** 31, 2 ** 32 - 1), fc.array(fc.tuple(fc.nat(), tie('value')), { maxLength: 3 }))
        .map(([length, at]): Recipe => ['sparse', length, at.map(([i, v]): [number, Recipe] => [i % length, v])]),
      weight: 1,
    },
  ),
})).value;

export const SERIALIZERS = ['structured', 'json', 'devalue', 'javascript', 'closure', 'auto'] as const;
export const MODES = ['argument', 'captured', 'return'] as const;
export const BACKENDS = ['threads', 'processes'] as const;

export interface FuzzCase {
  recipe: Recipe;
  serializer: (typeof SERIALIZERS)[number];
  mode: (typeof MODES)[number];
  backend: (typeof BACKENDS)[number];
}

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  recipe,
  serializer: fc.constantFrom(...SERIALIZERS),
  mode: fc.constantFrom(...MODES),
  backend: fc.constantFrom(...BACKENDS),
});

/** Case `index` of the run seeded `seed`: the same case on every machine, so a failure is reproduced by its two numbers. */
export function caseAt(seed: number, index: number): FuzzCase {
  return fc.sample(fuzzCase, { seed: (seed * 1_000_003 + index) | 0, numRuns: 1 })[0]!;
}

const FUNCTIONS = [() => 1, function named(a: number) { return a * 2; }, async (x: number) => x];
const TYPED = { Uint8Array, Int32Array, Float64Array, BigInt64Array } as const;

/** The value a recipe describes. */
export function build(r: Recipe): unknown {
  switch (r[0]) {
    case 'undefined':
      return undefined;
    case 'null':
      return null;
    case 'boolean':
    case 'string':
      return r[1];
    case 'number':
      return Number(r[1]);
    case 'bigint':
      return BigInt(r[1]);
    case 'hugeString':
      return 'x'.repeat(r[1] - 1) + 'y';
    case 'date':
      return new Date(r[1] ?? NaN);
    case 'symbol':
      return r[2] ? Symbol.for(r[1]) : Symbol(r[1]);
    case 'typed':
      return r[1] === 'BigInt64Array' ? BigInt64Array.from(r[2].map(BigInt)) : TYPED[r[1]].from(r[2]);
    case 'sparse': {
      const out: unknown[] = [];
      out.length = r[1];
      for (const [i, v] of r[2]) out[i] = build(v);
      return out;
    }
    case 'dense':
      return Array.from({ length: r[1] }, (_, i) => i % 1000);
    case 'array':
      return r[1].map(build);
    case 'object': {
      const base = r[2] === 'null' ? Object.create(null) : r[2] === 'inherits' ? Object.create({ inherited: 1 }) : {};
      for (const [k, v] of r[1]) Object.defineProperty(base, k, { value: build(v), enumerable: true, writable: true, configurable: true });
      return r[2] === 'frozen' ? Object.freeze(base) : base;
    }
    case 'symbolKey':
      return { [Symbol(r[1])]: build(r[2]), plain: 1 };
    case 'getter': {
      const throws = r[1];
      return Object.defineProperty({ before: 1 }, 'x', {
        enumerable: true,
        get() {
          if (throws) throw new Error('a hostile getter ran');
          return 1;
        },
      });
    }
    case 'proxy': {
      const inner = build(r[1]);
      const target = typeof inner === 'object' && inner !== null ? inner : { inner };
      const trap = () => {
        throw new Error('a hostile trap ran');
      };
      return new Proxy(target, r[2] ? { get: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, has: trap } : {});
    }
    case 'revokedProxy': {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    }
    case 'map':
      return new Map(r[1].map(([k, v]) => [build(k), build(v)]));
    case 'set':
      return new Set(r[1].map(build));
    case 'mapCycle': {
      const map = new Map<unknown, unknown>([['value', build(r[1])]]);
      const holder = { map };
      map.set('self', map).set('holder', holder);
      return holder;
    }
    case 'cycle': {
      const object: Record<string, unknown> = { value: build(r[1]) };
      object.self = object;
      return object;
    }
    case 'deep': {
      let value = build(r[3]);
      for (let i = 0; i < r[1]; i++) value = r[2] === 'array' ? [value] : r[2] === 'object' ? { d: value } : new Map([['d', value]]);
      return value;
    }
    case 'shared': {
      const inner = { v: build(r[1]) };
      return [inner, inner];
    }
    case 'regexp':
      return new RegExp(r[1], r[2]);
    case 'error':
      return new Error(r[1]);
    case 'function':
      return FUNCTIONS[r[1]];
    case 'instance':
      return new Point(r[1], r[2]);
  }
}

const TAGS = new Set(['undefined', 'null', 'boolean', 'number', 'string', 'bigint', 'hugeString', 'date', 'symbol', 'typed', 'sparse', 'dense', 'array', 'object', 'symbolKey', 'getter', 'proxy', 'revokedProxy', 'map', 'set', 'mapCycle', 'cycle', 'deep', 'shared', 'regexp', 'error', 'function', 'instance']);

/** The kinds a recipe holds (for the figures: how often each was met; an object key that spells a kind may count once too many). */
export function kindsOf(r: Recipe, into = new Set<string>()): Set<string> {
  const visit = (x: unknown): void => {
    if (!Array.isArray(x)) return;
    if (typeof x[0] === 'string' && TAGS.has(x[0])) into.add(x[0]);
    x.forEach(visit);
  };
  visit(r);
  return into;
}
