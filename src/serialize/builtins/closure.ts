import v8 from 'node:v8';
import { decodeGraph, encodeGraph, type Graph } from '../../closure/codec.js';
import { commonRejection } from '../rejections.js';
import type { Serializer } from '../types.js';

/**
 * Functions with the variables they capture (a snapshot taken at
 * serialization), classes and their instances, bound functions, getters,
 * and imported modules by reference; everything else through V8's
 * serializer, so data costs what structured clone costs. Deserializing
 * compiles code: accept payloads only from a trusted sender.
 */
export const closureSerializer: Serializer = {
  name: 'closure',
  capabilities: { functions: true, closures: true, cycles: true, classInstances: true, binary: true },
  serialize: (value) => v8.serialize(encodeGraph(value)),
  serializeInSession: (value, session) => v8.serialize(encodeGraph(value, { accessors: true }, session)),
  deserialize: (data) => decodeGraph(v8.deserialize(typeof data === 'string' ? Buffer.from(data, 'latin1') : data) as Graph),
  rejects: (value) => (typeof value === 'function' ? undefined : commonRejection(value)),
};
