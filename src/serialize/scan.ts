import { someInGraph } from '../values/graph.js';
import { clonesWithAnotherPrototype, isClassInstance, isHostView } from '../values/kinds.js';
import type { Serializer } from './types.js';

/** A function, a class instance structured clone would flatten, a null-prototype object it would give Object's, or symbol-keyed properties it would drop. */
export const NEEDS_CLOSURE = 1;
/** A view a transport's structured clone rebuilds differently from v8.serialize (values/kinds.ts isHostView). */
export const HOST_VIEW = 2;

/**
 * Walks a payload and returns which of the `wanted` flags it holds, stopping at the first
 * one found. A typed array is data, unless it is an instance of a subclass of its own.
 */
export function scanPayload(root: unknown, wanted: number): number {
  const closure = (wanted & NEEDS_CLOSURE) !== 0;
  const views = (wanted & HOST_VIEW) !== 0;
  let found = 0;
  someInGraph(root, (value) => {
    if (typeof value === 'function') {
      if (closure) found = NEEDS_CLOSURE;
      return closure;
    }
    if (ArrayBuffer.isView(value)) {
      if (closure && isClassInstance(value)) found = NEEDS_CLOSURE;
      else if (views && isHostView(value)) found = HOST_VIEW;
      return found !== 0;
    }
    if (!closure || Array.isArray(value)) return false;
    // Symbol-keyed properties ([Symbol.iterator]() {...}) are dropped by structured clone.
    if (clonesWithAnotherPrototype(value) || (Object.getPrototypeOf(value) === Object.prototype && Object.getOwnPropertySymbols(value).length > 0)) found = NEEDS_CLOSURE;
    return found !== 0;
  });
  return found;
}

/** The serializer says the transport may clone `values` as they are; a scan that throws (a getter) says no: packing then names the failure. */
export function clonesAsIs(serializer: Serializer, values: unknown): boolean {
  try {
    return serializer.transportClones?.(values) === true;
  } catch {
    return false;
  }
}
