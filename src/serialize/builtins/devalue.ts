import * as devalue from 'devalue';
import { UnserializableValueError, type Serializer } from '../types.js';
import { commonRejection } from '../rejections.js';

const decoder = new TextDecoder();

/**
 * devalue's text format: JSON-like but keeps undefined, NaN, -0, BigInt,
 * Date, RegExp, Map, Set, typed arrays, sparse arrays and cycles. Refuses
 * class instances ("arbitrary non-POJOs") and functions.
 */
export const devalueSerializer: Serializer = {
  name: 'devalue',
  capabilities: { functions: false, closures: false, cycles: true, classInstances: false, binary: false },
  serialize(value) {
    try {
      return devalue.stringify(value);
    } catch (error) {
      const path = (error as { path?: unknown }).path;
      if (typeof path === 'string') throw new UnserializableValueError((error as Error).message, path);
      throw error;
    }
  },
  deserialize: (data) => devalue.parse(typeof data === 'string' ? data : decoder.decode(data)),
  rejects(value) {
    // What no codec carries first: a Proxy's prototype is its handler's answer (or a throw).
    const common = commonRejection(value);
    if (common !== undefined) return common;
    if (typeof value === 'object' && value !== null) {
      const proto = Object.getPrototypeOf(value);
      const builtin = [Object.prototype, Array.prototype, null, Map.prototype, Set.prototype, Date.prototype, RegExp.prototype];
      if (!builtin.includes(proto) && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
        return 'a class instance cannot be sent by devalue (it keeps plain objects only)';
      }
    }
    return undefined;
  },
};
