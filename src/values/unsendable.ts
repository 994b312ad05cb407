import { types } from 'node:util';

/**
 * The one list of what no serializer can carry, with the reason in words.
 * Every codec, the persist() check and the remedies read it from here; a
 * serializer adds only its own limits on top (functions for data codecs).
 */
export function unsendableReason(value: unknown): string | undefined {
  if (typeof value === 'symbol') return 'a symbol cannot be sent (symbols are unique to one thread)';
  if (typeof value !== 'object' || value === null) return undefined;
  if (types.isProxy(value)) return 'a Proxy cannot be sent (its handler is code joblet cannot see)';
  if (value instanceof WeakMap || value instanceof WeakSet) return `a ${value.constructor.name} cannot be sent (its entries cannot be enumerated)`;
  if (value instanceof WeakRef) return 'a WeakRef cannot be sent (its target is held weakly and may be gone)';
  if (value instanceof Promise) return 'a Promise cannot be sent; await it first';
  if (types.isModuleNamespaceObject(value)) return 'a module namespace reached as data cannot be sent; import the module in the task';
  return undefined;
}

/** What to do about a resource that cannot be sent (a socket, a handle, a Proxy). */
export const RESOURCE_REMEDY =
  'Create it inside the task, or once per worker with the `initializer` option and read it in the task with workerState() (the README\'s "One resource per worker" shows how), send the data it holds instead, or keep it in the main thread.';
