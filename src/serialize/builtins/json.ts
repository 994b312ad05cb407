import { UnserializableValueError, type Serializer } from '../types.js';
import { commonRejection } from '../rejections.js';
import { findInGraph, someInGraph } from '../../values/graph.js';
import { formatPath } from '../../values/paths.js';

const decoder = new TextDecoder();
const isFunction = (value: unknown) => typeof value === 'function';

/**
 * JSON text. Portable and simple, with JSON's losses: undefined properties
 * and symbols vanish, undefined, NaN, Infinity and array holes become null,
 * -0 becomes 0, Dates become strings, Map, Set, RegExp and ArrayBuffer
 * become {}, typed arrays become index-keyed objects, class instances lose
 * their prototype. BigInt and cycles are refused.
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
    // JSON.stringify(undefined) is undefined, not text: a task that returns nothing would
    // fail to decode. JSON has no undefined, so it becomes null, as inside arrays.
    return JSON.stringify(value) ?? 'null';
  },
  deserialize: (data) => JSON.parse(typeof data === 'string' ? data : decoder.decode(data)),
  rejects(value, { cyclic }) {
    if (cyclic) return 'a cycle (an object that contains itself) cannot be written as JSON';
    if (typeof value === 'bigint') return 'a BigInt cannot be written as JSON';
    return commonRejection(value);
  },
};
