import v8 from 'node:v8';
import { commonRejection } from '../rejections.js';
import type { Serializer } from '../types.js';
import { HOST_VIEW, scanPayload } from '../scan.js';

/**
 * V8's ValueSerializer, the codec behind postMessage and structuredClone:
 * the fastest path for data, with cycles, Map, Set, Date, RegExp, BigInt and
 * typed arrays. Class instances arrive as plain objects (prototype dropped);
 * Errors keep their type, message and stack but not custom properties.
 */
export const structuredSerializer: Serializer = {
  name: 'structured',
  capabilities: { functions: false, closures: false, cycles: true, classInstances: false, binary: true },
  refusesProxies: true,
  serialize: (value) => v8.serialize(value),
  deserialize: (data) => v8.deserialize(typeof data === 'string' ? Buffer.from(data, 'latin1') : data),
  rejects: (value) => commonRejection(value),
  // Anything but a Buffer or a partial view: a transport's structured clone is this very codec.
  transportClones: (value) => scanPayload(value, HOST_VIEW) === 0,
};
