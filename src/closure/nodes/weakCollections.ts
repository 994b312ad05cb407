import vm from 'node:vm';
import { UnserializableValueError } from '../../serialize/types.js';
import { RESOURCE_REMEDY } from '../../values/unsendable.js';
import { collectionIdOf, receivedCollection } from '../classRegistry.js';
import type { WeakRecord } from '../graph.js';
import type { NodeDecoder, NodeEncoder, NodeKind } from '../nodeKind.js';

/**
 * WeakMaps and WeakSets: caches, brand checks, registries, and the #private state compilers
 * lower to (tsc's `_Tally_n`, esbuild's minified `var o` with `__privateGet`). Such a
 * collection is carried exactly as the entries whose KEY travels: an object or function of
 * the same graph, or a value the receiver holds itself with the same identity (a built-in, a
 * package export). No code in the receiver can ever hold any other key, so no other entry can
 * be observed there. The encoder adds the entries once the rest of the graph is walked (an
 * entry's value may make more keys travel); the collection itself is one per id and run in the
 * receiving realm, so every payload of a run (the function, then its arguments) joins it.
 */

const isWeakMap = (value: object): value is WeakMap<object, unknown> => value instanceof WeakMap;

export const weakNode: NodeKind<WeakRecord> = {
  claims: (value) => value instanceof WeakMap || value instanceof WeakSet,
  reduce(collection: WeakMap<object, unknown> | WeakSet<object>, encoder: NodeEncoder, path: string): WeakRecord {
    const kind = isWeakMap(collection) ? 'WeakMap' : 'WeakSet';
    // A subclass (its methods) or own properties are more than the entries a record carries.
    const proto = Object.getPrototypeOf(collection) as object | null;
    if ((proto !== WeakMap.prototype && proto !== WeakSet.prototype) || Reflect.ownKeys(collection).length) {
      throw new UnserializableValueError(`a ${kind} with a prototype or own properties of its own cannot be sent (only a plain ${kind}'s entries are carried)`, path, RESOURCE_REMEDY);
    }
    const record: WeakRecord = { t: 'weak', kind, id: collectionIdOf(collection), cep: encoder.epoch, entries: [] };
    encoder.weakEntries(collection, record, path);
    return record;
  },
  make(record, decoder: NodeDecoder, at) {
    const existing = receivedCollection(record.id, record.cep, decoder.context, () =>
      decoder.context ? vm.runInContext(`new ${record.kind}()`, decoder.context) : record.kind === 'WeakMap' ? new WeakMap() : new WeakSet(),
    );
    const made = existing.collection as WeakMap<object, unknown> & WeakSet<object>;
    decoder.provide(at, made);
    for (const [encodedKey, encodedValue] of record.entries) {
      const put = (key: object, value: unknown) => {
        // Joining a collection that existed already (an earlier payload of the run, or this realm's
        // own original receiving a result back): a copy adds what is missing, never overwrites.
        if (existing.joined && made.has(key)) return;
        if (record.kind === 'WeakMap') made.set(key, value);
        else made.add(key);
      };
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
