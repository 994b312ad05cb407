import { types } from 'node:util';

/**
 * Values no data codec can carry, with the reason in words. Serializers
 * build their `rejects` on this and add their own limits.
 */
export function commonRejection(value: unknown): string | undefined {
  if (typeof value === 'function') return 'a function cannot be sent by a data serializer';
  if (typeof value === 'symbol') return 'a symbol cannot be sent (symbols are unique to one thread)';
  if (typeof value !== 'object' || value === null) return undefined;
  if (types.isProxy(value)) return 'a Proxy cannot be sent';
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    return `a ${value.constructor.name} cannot be sent (its entries cannot be enumerated)`;
  }
  if (value instanceof Promise) return 'a Promise cannot be sent; await it first';
  return undefined;
}
