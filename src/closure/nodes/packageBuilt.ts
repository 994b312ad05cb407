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
 * as any value does), and the worker calls the constructor. Only when the object is what the
 * constructor makes of the definition: checked by making it again here.
 */

/** What the package keeps beside the definition, set after construction (zod's clone notes the schema it came from): carried and set again. */
const PARENT = 'parent';

interface Built {
  inner: Record<string, unknown>;
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
  return { inner: inner as Record<string, unknown>, ctor: ctor as Built['ctor'], def };
}

function dataOf(object: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

/**
 * Why `value` is not what its constructor makes of its definition (a property set or replaced
 * after construction), or undefined when it is. A property the package fills in lazily (a
 * getter that becomes a value, a method bound to the instance on first use, a member it
 * replaces with its own function) is the same object: the one made again does the same.
 */
function differenceFrom(value: object, again: object, path: string): string | undefined {
  for (const [mine, theirs, where] of [
    [value, again, path],
    [(value as { _zod: object })._zod, (again as { _zod: object })._zod, `${path}._zod`],
  ] as const) {
    for (const key of Reflect.ownKeys(mine)) {
      if (mine !== value && key === PARENT) continue;
      const own = Object.getOwnPropertyDescriptor(mine, key)!;
      const made = Object.getOwnPropertyDescriptor(theirs, key);
      const label = `${where}.${String(key)}`;
      if (!made) {
        // zod notes facts about a schema in its `_zod` as it is used (an optional member's `optin`, set by its object): plain values the one made again gets the same way.
        const noted = mine !== value && 'value' in own && (typeof own.value !== 'object' || own.value === null) && typeof own.value !== 'function';
        if (!noted && !('value' in own && isBoundMethod(own.value, value, key))) return `it has \`${label}\`, which its constructor does not make`;
        continue;
      }
      // A lazy property (util.defineLazy) is a getter until it is read, then a value.
      if (!('value' in own) || !('value' in made)) continue;
      const a = own.value as unknown;
      const b = made.value as unknown;
      if (typeof a === 'function' && typeof b === 'function') {
        // The package may replace its own member once used (zod compiles `_zod.parse` on the first parse): the one made again does too.
        if (Function.prototype.toString.call(a) !== Function.prototype.toString.call(b) && packageRoute(a) === undefined) return `its \`${label}\` was replaced`;
      } else if ((typeof a !== 'object' || a === null) && a !== b) return `its \`${label}\` was changed`;
    }
  }
  return undefined;
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
    const { inner, ctor, def } = builtFrom(value)!;
    const route = packageRoute(ctor) as { ref: unknown };
    const specifier = (route.ref as { specifier: string }).specifier;
    let again: object;
    try {
      again = new ctor(def);
    } catch {
      again = {};
    }
    const why = builtFrom(again) ? differenceFrom(value, again, path) : 'its constructor does not make it again from its definition';
    if (why) {
      const pkg = packageNameOf(specifier) ?? specifier;
      throw new UnserializableValueError(`an object built by \`${ctor.name}\` of the package \`${pkg}\` cannot be sent: ${why}`, path, packageRemedy(pkg));
    }
    const record: BuiltRecord = { t: 'built', ctor: encoder.transform(ctor, `${path} -> constructor`), def: encoder.transform(def, `${path} -> definition`) };
    if (PARENT in inner) record.parent = encoder.transform(inner[PARENT], `${path} -> ${PARENT}`);
    return record;
  },
  make(record, decoder) {
    // The constructor reads its definition now: one that is not made yet cannot be read.
    const notYet = () => {
      throw new Error('joblet: a package-built object whose definition refers back to it directly is not supported');
    };
    const Ctor = decoder.value(record.ctor, notYet) as new (def: unknown) => { _zod: Record<string, unknown> };
    const built = new Ctor(decoder.value(record.def, notYet));
    if ('parent' in record) {
      const parent = decoder.value(record.parent, (late) => (built._zod.parent = late));
      if (parent !== undefined) built._zod.parent = parent;
    }
    return built;
  },
};
