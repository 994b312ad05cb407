import { types } from 'node:util';

/**
 * What kind of thing a value is, as far as sending it is concerned: the
 * facts every walk, scan and codec of joblet shares. A leaf: imports
 * nothing of joblet's.
 */

// Structured clone carries these natively (prototype included).
const NATIVE_PROTOTYPES = new Set<unknown>([
  Object.prototype, Array.prototype, Date.prototype, RegExp.prototype, Map.prototype, Set.prototype,
  ArrayBuffer.prototype, SharedArrayBuffer.prototype, DataView.prototype,
  Boolean.prototype, Number.prototype, String.prototype, BigInt.prototype,
  Error.prototype, EvalError.prototype, RangeError.prototype, ReferenceError.prototype,
  SyntaxError.prototype, TypeError.prototype, URIError.prototype,
]);

const NATIVE_TYPED_ARRAY_PROTOTYPES = new Set<unknown>(
  [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map((c) => c.prototype),
);
// Buffer is Node's own Uint8Array: structured clone carries it.
NATIVE_TYPED_ARRAY_PROTOTYPES.add(Buffer.prototype);

/** The native error constructors: they may stand as an instance's class, since every realm has its own. */
export const NATIVE_ERRORS = new Set<unknown>([Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]);

/**
 * True for an object that structured clone would flatten or strip: a class
 * instance (its prototype), or a built-in Error with properties of its own
 * (V8 keeps only name, message and stack), or a RegExp with a lastIndex. A
 * null-prototype object is not a class instance, but structured clone loses
 * its prototype too: see clonesWithAnotherPrototype.
 */
export function isClassInstance(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  if (proto === null) return false;
  // A typed array of a subclass of its own (class Vec extends Float64Array) needs the codec; plain ones do not.
  if (ArrayBuffer.isView(value)) return types.isTypedArray(value) && !NATIVE_TYPED_ARRAY_PROTOTYPES.has(proto);
  // Structured clone resets a RegExp's lastIndex: a global regexp midway through a string needs the codec.
  if (types.isRegExp(value) && (value as RegExp).lastIndex !== 0) return true;
  if (!NATIVE_PROTOTYPES.has(proto)) return true;
  return types.isNativeError(value) && Object.keys(value).length > 0;
}

/**
 * True for an object that structured clone would give another prototype, or flatten: a class
 * instance (isClassInstance), or an object with a null prototype, which arrives with
 * Object.prototype. What a codec that keeps prototypes must carry itself.
 */
export function clonesWithAnotherPrototype(value: object): boolean {
  return Object.getPrototypeOf(value) === null || isClassInstance(value);
}

/** An object structured clone cannot carry as it is: it fails on a Proxy, and gives others another prototype. */
export function clonesAmiss(value: object): boolean {
  return types.isProxy(value) || clonesWithAnotherPrototype(value);
}

/** The native typed-array constructor a (subclassed) typed array is made of. */
export function nativeTypedArrayOf(value: object): Function | undefined {
  for (let proto = Object.getPrototypeOf(value); proto; proto = Object.getPrototypeOf(proto)) {
    if (NATIVE_TYPED_ARRAY_PROTOTYPES.has(proto)) return (proto as { constructor: Function }).constructor;
  }
  return undefined;
}

export type BuiltinBase = 'Date' | 'Map' | 'Set' | 'RegExp' | 'Error' | 'TypedArray';

/** A built-in an instance is made of, whose internal slots Object.create cannot give it. */
export function builtinBase(value: object): BuiltinBase | undefined {
  if (types.isTypedArray(value)) return 'TypedArray';
  if (types.isDate(value)) return 'Date';
  if (types.isMap(value)) return 'Map';
  if (types.isSet(value)) return 'Set';
  if (types.isRegExp(value)) return 'RegExp';
  if (types.isNativeError(value)) return 'Error';
  return undefined;
}

/**
 * An object no walk enters: its contents are bytes or internal slots that
 * every codec carries whole (or refuses whole), never children to visit.
 */
export function isLeafObject(value: object): boolean {
  return (
    // A Proxy's contents are its handler's code (instanceof runs its traps; a revoked one throws).
    types.isProxy(value) ||
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof SharedArrayBuffer ||
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof Error ||
    value instanceof Promise
  );
}

/** A typed array or DataView over shared memory. */
export function isSharedView(value: unknown): value is ArrayBufferView {
  return ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer;
}

/**
 * A view that v8.serialize writes differently from a transport's structured clone: a Buffer
 * (it comes back a Buffer from v8.deserialize, a plain Uint8Array from postMessage), or a view
 * over part of a larger buffer (v8.serialize writes the view's bytes, postMessage the whole buffer).
 */
export function isHostView(value: ArrayBufferView): boolean {
  return Buffer.isBuffer(value) || value.byteLength !== value.buffer.byteLength;
}

/** A plain object (Object.prototype) with getters or setters among its own enumerable keys. */
export function hasAccessor(value: object): boolean {
  for (const key of Object.keys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor && !('value' in descriptor)) return true;
  }
  return false;
}
