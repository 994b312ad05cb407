import { UnserializableValueError } from '../../serialize/types.js';
import { ROOT_NAME } from '../../source/brandable.js';

/**
 * Native #private fields of class instances. The sender reads them through the inspector
 * (inspector.ts privateFields); the receiver's copy of the class is compiled brandable
 * (source/brandable.ts), and an instance is made by constructing the class with the restore
 * on: the object being restored comes out of the root of its class chain, and each class's
 * field initialisers give it the values that travelled, its constructor bodies skipped.
 */
export const RESTORE = {
  on: false,
  target: undefined as object | undefined,
  values: new Map<string, unknown>(),
  /** Set by a brandable class's static block as it is made: a setter per static #private field. */
  statics: undefined as Record<string, (value: unknown) => void> | undefined,
  field(name: string): unknown {
    if (!this.values.has(name)) throw new Error(`joblet: no value for the #private field ${name} of the instance being rebuilt`);
    return this.values.get(name);
  },
};

/** Classes this codec compiled brandable (their source rewritten): only their construction can restore. */
export const brandable = new WeakSet<Function>();

/** Per brandable class with static #private fields, a setter for each (source/brandable.ts). */
export const staticSetters = new WeakMap<Function, Record<string, (value: unknown) => void>>();

/** Give `target` (an object with `cls.prototype`) the #private fields of `cls`'s chain, with these values. */
export function brandInstance(cls: Function, target: object, fields: Map<string, unknown>, path: string): void {
  // Every class up to the root the rewrite gave the chain must be brandable: another would run its constructor.
  for (let c: unknown = cls; !(typeof c === 'function' && c.name === ROOT_NAME && !brandable.has(c)); c = Object.getPrototypeOf(c)) {
    if (typeof c !== 'function' || !brandable.has(c)) {
      throw new UnserializableValueError(
        `an instance of \`${cls.name}\` cannot be rebuilt with its #private fields: \`${typeof c === 'function' ? c.name : String(c)}\` in its class chain ${typeof c === 'function' ? 'was made here without the means to restore them' : 'is not a class this codec rebuilt'}`,
        path,
        'Send the class and its instances in the same run, or send the data and build the instance inside the task.',
      );
    }
  }
  Object.assign(RESTORE, { on: true, target, values: fields });
  try {
    const made = Reflect.construct(cls, [], cls) as object;
    if (made !== target) throw new Error(`joblet: the class \`${cls.name}\` did not restore the instance it was given`);
  } finally {
    Object.assign(RESTORE, { on: false, target: undefined, values: new Map() });
  }
}
