import v8 from 'node:v8';
import { decodeGraph, encodeGraph, isClassInstance, type Graph } from '../closure/codec.js';
import { commonRejection } from './rejections.js';
import type { Serializer } from './types.js';
import { setFileCodec } from '../sharing/persisted.js';

const PLAIN = 0;
const GRAPH = 1;

/** Does anything in `value` need the closure codec: a function, or a class instance structured clone would flatten? */
function needsClosure(root: unknown): boolean {
  if (typeof root === 'function') return true;
  if (typeof root !== 'object' || root === null) return false;
  const seen = new Set<object>();
  const stack: object[] = [root];
  while (stack.length) {
    const object = stack.pop()!;
    if (seen.has(object)) continue;
    seen.add(object);
    // A typed array is data, unless it is an instance of a subclass of its own.
    if (ArrayBuffer.isView(object)) {
      if (isClassInstance(object)) return true;
      continue;
    }
    if (Array.isArray(object)) {
      // The hot loop of a large payload. Numbers are tested first: a payload that mixes a number
      // and an object before a long list of numbers otherwise leaves this loop with mixed type
      // feedback, about three times slower (1.7 ms against 0.8 ms for a million).
      for (let i = 0; i < object.length; i++) {
        const child: unknown = object[i];
        if (typeof child === 'number') continue;
        const type = typeof child;
        if (type === 'function') return true;
        if (type === 'object' && child !== null) stack.push(child as object);
      }
      continue;
    }
    if (isClassInstance(object)) return true;
    // Symbol-keyed properties ([Symbol.iterator]() {...}) are dropped by structured clone.
    if (Object.getPrototypeOf(object) === Object.prototype && Object.getOwnPropertySymbols(object).length) return true;
    if (object instanceof Map) {
      for (const [key, child] of object) {
        if (typeof key === 'function' || typeof child === 'function') return true;
        if (typeof key === 'object' && key !== null) stack.push(key);
        if (typeof child === 'object' && child !== null) stack.push(child);
      }
    } else if (object instanceof Set) {
      for (const child of object) {
        if (typeof child === 'function') return true;
        if (typeof child === 'object' && child !== null) stack.push(child);
      }
    } else if (!(object instanceof Date) && !(object instanceof RegExp) && !(object instanceof Error)) {
      for (const key of Object.keys(object)) {
        const child = (object as Record<string, unknown>)[key];
        if (typeof child === 'function') return true;
        if (typeof child === 'object' && child !== null) stack.push(child);
      }
    }
  }
  return false;
}

function write(tag: number, value: unknown): Uint8Array {
  // v8.serialize's own steps, with a tag word before the value: no copy to prepend it.
  const serializer = new v8.DefaultSerializer();
  serializer.writeHeader();
  serializer.writeUint32(tag);
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/**
 * The default. Structured clone for data; only when a payload holds a
 * function or a class instance does it take the closure codec, which still
 * sends the data part through V8. Never fails where 'closure' succeeds; on
 * pure data it costs a scan more than 'structured' (see bench/closures.ts).
 */
export const autoSerializer: Serializer = {
  name: 'auto',
  capabilities: { functions: true, closures: true, cycles: true, classInstances: true, binary: true },
  serialize(value) {
    if (needsClosure(value)) return write(GRAPH, encodeGraph(value, { accessors: false }));
    try {
      return write(PLAIN, value);
    } catch {
      // Something structured clone refuses (a Proxy from wrapNonSerializable, a symbol...): the
      // closure codec carries what can be carried and names the path of what cannot.
      return write(GRAPH, encodeGraph(value, { accessors: false }));
    }
  },
  deserialize(data) {
    const deserializer = new v8.DefaultDeserializer(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    deserializer.readHeader();
    const tag = deserializer.readUint32();
    const value = deserializer.readValue();
    return tag === GRAPH ? decodeGraph(value as Graph) : value;
  },
  rejects: (value) => (typeof value === 'function' ? undefined : commonRejection(value)),
};

// Persisted values are written to files with this codec: data by structured clone, the rest by the closure codec.
setFileCodec(autoSerializer);
