import vm from 'node:vm';
import { collectionRegistry, noteReceivedCollection } from '../classRegistry.js';
import type { WeakRecord } from '../graph.js';
import type { NodeKind } from '../nodeKind.js';

/**
 * Downlevelled #private fields: tsc below ES2022 (and esbuild, Babel) keep
 * `#n` in a module-level WeakMap keyed by instance (`_Tally_n`), private
 * methods' brand in a WeakSet. Such a collection travels with the entries
 * of the instances that travel beside it (the encoder adds them once the
 * graph is walked), and is one collection per id in the receiving realm.
 */

// The helpers compilers emit for #private members: a function that captures one of them works on private state.
const PRIVATE_HELPER = /^_*(classPrivate|classCheckPrivate|privateGet|privateSet|privateAdd|privateIn|privateMethod|privateWrapper|assertClassBrand|checkPrivateRedeclaration)/;

/** `name` (captured by a function named `owner`, beside `captured`) holds a class's downlevelled #private state. */
export function isPrivateState(value: unknown, name: string, owner: string, captured: Iterable<string>): value is WeakMap<object, unknown> | WeakSet<object> {
  if (!(value instanceof WeakMap || value instanceof WeakSet)) return false;
  // tsc names the collection `_<Class>_<member>`; the constructor itself needs no helper to fill it.
  if (owner && name.startsWith(`_${owner}_`)) return true;
  for (const other of captured) if (PRIVATE_HELPER.test(other)) return true;
  return false;
}

export const privateStateNode: NodeKind<WeakRecord> = {
  make(record, decoder, at) {
    const registry = collectionRegistry(decoder.context);
    let collection = registry.get(record.id) as (WeakMap<object, unknown> & WeakSet<object>) | undefined;
    if (!collection) {
      collection = (decoder.context ? vm.runInContext(`new ${record.kind}()`, decoder.context) : record.kind === 'WeakMap' ? new WeakMap() : new WeakSet()) as WeakMap<object, unknown> & WeakSet<object>;
      noteReceivedCollection(collection, record.id, decoder.context);
    }
    decoder.provide(at, collection);
    const made = collection;
    for (const [encodedKey, encodedValue] of record.entries) {
      const put = (key: object, value: unknown) => (record.kind === 'WeakMap' ? made.set(key, value) : made.add(key));
      let key: object | undefined;
      let value: unknown;
      let waiting = 0;
      const ready = () => {
        if (--waiting === 0) put(key!, value);
      };
      const target = decoder.markerOf(encodedKey);
      if (target !== undefined && decoder.isBeingBuilt(target)) waiting++;
      const valueTarget = decoder.markerOf(encodedValue);
      if (valueTarget !== undefined && decoder.isBeingBuilt(valueTarget)) waiting++;
      key = decoder.value(encodedKey, (late) => ((key = late as object), ready())) as object | undefined;
      value = decoder.value(encodedValue, (late) => ((value = late), ready()));
      if (waiting === 0) put(key!, value);
    }
    return made;
  },
};
