import { UnserializableValueError, type Serializer } from './types.js';
import { commonRejection } from './rejections.js';
import { findInGraph, someInGraph } from './walk.js';
import { formatPath } from './paths.js';

const decoder = new TextDecoder();
const isFunction = (value: unknown) => typeof value === 'function';

/**
 * JSON text. Portable and simple, with JSON's losses: undefined in objects
 * and symbols vanish, NaN and Infinity become null, Dates become strings,
 * Map and Set become {}. BigInt and cycles are refused.
 */
export const jsonSerializer: Serializer = {
  name: 'json',
  capabilities: { functions: false, closures: false, cycles: false, classInstances: false, binary: false },
  serialize(value) {
    // JSON.stringify drops functions without a word; refuse them instead, with their path.
    // The scan is a tight loop; the walk that builds the path runs only when there is one.
    if (someInGraph(value, isFunction)) {
      const fn = findInGraph(value, (node) => (isFunction(node.value) ? node.path() : undefined))!;
      throw new UnserializableValueError('a function cannot be sent by a data serializer', formatPath('', fn));
    }
    return JSON.stringify(value);
  },
  deserialize: (data) => JSON.parse(typeof data === 'string' ? data : decoder.decode(data)),
  rejects(value, { cyclic }) {
    if (cyclic) return 'a cycle (an object that contains itself) cannot be written as JSON';
    if (typeof value === 'bigint') return 'a BigInt cannot be written as JSON';
    return commonRejection(value);
  },
};
