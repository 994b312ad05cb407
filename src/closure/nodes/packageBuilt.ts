import { isDeepStrictEqual } from 'node:util';
import { UnserializableValueError } from '../../serialize/types.js';
import type { BuiltRecord, NodeRecord } from '../graph.js';
import type { NodeKind } from '../nodeKind.js';
import { boundPartsOf } from '../inspector.js';
import { packageNameOf, packageRemedy, packageRoute } from '../packages.js';

/**
 * Objects a package builds from plain data with a constructor it exports, and rebuilds that way
 * itself: a zod 4 schema is `new schema._zod.constr(schema._zod.def)` (zod's own clone makes
 * every refined or wrapped schema so). Copied, a schema is dozens of closures its constructor
 * made over it; here it travels as its constructor (by reference to the package) and its
 * definition (nested schemas, checks, and the user's refinements and transforms in it travel
 * as any value does), and the worker calls the constructor, then sets again what was set on
 * the object after construction (found by making it again here from the same definition).
 */

interface Built {
  ctor: new (def: unknown) => object;
  def: object;
}

/** The (constructor, definition) pair of a package-built object (zod's `_zod` protocol), if it is one. */
function builtFrom(value: object): Built | undefined {
  const slot = Object.getOwnPropertyDescriptor(value, '_zod');
  const inner = slot && 'value' in slot ? (slot.value as unknown) : undefined;
  if (typeof inner !== 'object' || inner === null) return undefined;
  const ctor = dataOf(inner, 'constr');
  const def = dataOf(inner, 'def');
  if (typeof ctor !== 'function' || typeof def !== 'object' || def === null) return undefined;
  if (Object.getPrototypeOf(value) !== (ctor as { prototype?: unknown }).prototype) return undefined;
  return { ctor: ctor as Built['ctor'], def };
}

function dataOf(object: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

/** An own data property set after construction: on the object (0) or its `_zod` (1), its key, value and flags. */
type SetAfter = [on: 0 | 1, key: string, value: unknown, flags: number];

/**
 * What was set on `value` after its constructor made it from its definition, found by comparing
 * with `again`, made now from the same definition: each own data property the constructor does
 * not make, or makes with another value (zod's clone notes the schema it came from as
 * `_zod.parent`; `superRefine` sets its check's `_zod.check` to your function; a property you
 * set). Carried and set again, the worker's object is this one. What the package fills in
 * lazily is left to the worker's package, which does the same when used: a getter that becomes
 * a value, a method bound to the instance on first use, a member it replaces with its own
 * function (zod compiles `_zod.parse` on the first parse). A string naming the difference when
 * it cannot be carried (an accessor or a symbol key the constructor did not make, a property
 * it made that was deleted).
 */
function setAfterConstruction(value: object, again: object): SetAfter[] | string {
  const set: SetAfter[] = [];
  const pairs = [
    [value, again],
    [(value as { _zod: object })._zod, (again as { _zod: object })._zod],
  ] as const;
  for (const [on, [mine, theirs]] of pairs.entries()) {
    for (const key of Reflect.ownKeys(mine)) {
      // The package's own slot is compared member by member (the second pair).
      if (on === 0 && key === '_zod') continue;
      const own = Object.getOwnPropertyDescriptor(mine, key)!;
      const made = Object.getOwnPropertyDescriptor(theirs, key);
      const label = `${on ? '_zod.' : ''}${String(key)}`;
      // A lazy property (util.defineLazy) is a getter until it is read, then a value.
      if (made && !('value' in made)) continue;
      if (!('value' in own)) {
        if (made) continue;
        return `its \`${label}\` is an accessor its constructor does not make`;
      }
      const a = own.value as unknown;
      const b = made?.value as unknown;
      if (made && (a === b || (typeof a === 'object' && a !== null && typeof b === 'object' && isDeepStrictEqual(a, b)))) continue;
      if (typeof a === 'function') {
        if (made && typeof b === 'function' && Function.prototype.toString.call(a) === Function.prototype.toString.call(b)) continue;
        if (on === 0 && !made && isBoundMethod(a, value, key)) continue;
        // A constructor-made member the package replaced with its own function as it ran (zod compiles `_zod.parse` on the first parse); one it added is carried (superRefine's `_zod.check`).
        if (on === 1 && made && typeof b === 'function' && packageRoute(a) !== undefined) continue;
      }
      if (typeof key === 'symbol') return `its \`${label}\` is keyed by a symbol`;
      set.push([on as 0 | 1, key, a, (own.writable ? 1 : 0) | (own.enumerable ? 2 : 0) | (own.configurable ? 4 : 0)]);
    }
    const deleted = Reflect.ownKeys(theirs).find((key) => !Object.prototype.hasOwnProperty.call(mine, key));
    if (deleted !== undefined) return `its \`${on ? '_zod.' : ''}${String(deleted)}\`, which its constructor makes, was deleted`;
  }
  return set;
}

/**
 * A method bound to the object under the name its prototype chain gives it (zod's prototype
 * getters bind a method to the instance on first use and keep it as an own property): the
 * object made again binds its own when used.
 */
function isBoundMethod(fn: unknown, value: object, key: string | symbol): boolean {
  if (typeof fn !== 'function' || !fn.name.startsWith('bound ') || !(key in Object.getPrototypeOf(value))) return false;
  const parts = boundPartsOf(fn);
  return parts !== undefined && parts.thisArg === value && typeof parts.target === 'function' && packageRoute(parts.target) !== undefined;
}

export const builtNode: NodeKind<BuiltRecord> = {
  claims(value) {
    const built = builtFrom(value);
    if (!built) return false;
    const route = packageRoute(built.ctor);
    return route !== undefined && 'ref' in route;
  },
  reduce(value: object, encoder, path: string): NodeRecord {
    const { ctor, def } = builtFrom(value)!;
    const route = packageRoute(ctor) as { ref: unknown };
    const specifier = (route.ref as { specifier: string }).specifier;
    let again: object;
    try {
      again = new ctor(def);
    } catch {
      again = {};
    }
    const set = builtFrom(again) ? setAfterConstruction(value, again) : 'its constructor does not make it again from its definition';
    if (typeof set === 'string') {
      const pkg = packageNameOf(specifier) ?? specifier;
      throw new UnserializableValueError(`an object built by \`${ctor.name}\` of the package \`${pkg}\` cannot be sent: ${set}`, path, packageRemedy(pkg));
    }
    const record: BuiltRecord = { t: 'built', ctor: encoder.transform(ctor, `${path} -> constructor`), def: encoder.transform(def, `${path} -> definition`) };
    if (set.length) record.set = set.map(([on, key, v, flags]) => [on, key, encoder.transform(v, `${path} -> ${on ? '_zod.' : ''}${key}`), flags]);
    return record;
  },
  make(record, decoder) {
    // The constructor reads its definition now: one that is not made yet cannot be read.
    const notYet = () => {
      throw new Error('joblet: a package-built object whose definition refers back to it directly is not supported');
    };
    const Ctor = decoder.value(record.ctor, notYet) as new (def: unknown) => { _zod: Record<string, unknown> };
    const built = new Ctor(decoder.value(record.def, notYet));
    for (const [on, key, encoded, flags] of record.set ?? []) {
      const target = on ? built._zod : built;
      const define = (v: unknown) => Object.defineProperty(target, key, { value: v, writable: !!(flags & 1), enumerable: !!(flags & 2), configurable: !!(flags & 4) });
      // A value still being built (the schema it was cloned from, in a cycle) is defined again when it arrives.
      define(decoder.value(encoded, define));
    }
    return built;
  },
};
