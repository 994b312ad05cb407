import { randomBytes } from 'node:crypto';
import { isSharedView } from '../values/kinds.js';
import { noteReferenceInUse, type ReferenceKind } from '../values/byReference.js';
import { capturedCopy, copiedPerRun, copyArrived, copyUnwritten, forgetCopy, isCopyable, isListShape, rebuildCopy, type CopyState } from './sharedCopies.js';

/**
 * Typed arrays on shared memory (grain's SharedMemoryArray). On the threads
 * backend a worker sees the same memory: no copy, and what a task writes is
 * seen by the main thread once the task is done. The processes backend
 * cannot share memory: each worker gets a copy, and its writes stay there.
 */
export type TypedArrayConstructor =
  | Int8ArrayConstructor | Uint8ArrayConstructor | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor
  | Float32ArrayConstructor | Float64ArrayConstructor | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

const TYPED_ARRAYS = new Set<unknown>([
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
]);

function checkConstructor(type: unknown): asserts type is TypedArrayConstructor {
  if (!TYPED_ARRAYS.has(type)) {
    const given = typeof type === 'function' ? `\`${type.name || 'anonymous'}\`` : `\`${String(type)}\` (${typeof type})`;
    throw new TypeError(`sharedArray expects a typed-array constructor (Float64Array, Int32Array, ...), got ${given}`);
  }
}

/** A zero-filled typed array of `length` elements on a SharedArrayBuffer. */
export function sharedArray<C extends TypedArrayConstructor>(type: C, length: number): InstanceType<C> {
  checkConstructor(type);
  noteReferenceInUse();
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`sharedArray expects a length that is a non-negative integer, got \`${String(length)}\``);
  const memory = new SharedArrayBuffer(length * type.BYTES_PER_ELEMENT);
  return new (type as unknown as new (buffer: SharedArrayBuffer) => unknown)(memory) as InstanceType<C>;
}

/** A copy of `source` on shared memory, of the same type. */
sharedArray.from = function from<T extends ArrayBufferView>(source: T): T {
  const type = (source as { constructor?: unknown }).constructor;
  checkConstructor(type);
  const copy = sharedArray(type, (source as unknown as { length: number }).length);
  (copy as unknown as { set(s: ArrayLike<number | bigint>): void }).set(source as unknown as ArrayLike<number | bigint>);
  return copy as unknown as T;
};

let nextId = 0;
// Ids unique across processes too: a remote worker (bullmq) holds defs by id from every producer that sends it jobs.
const ORIGIN = randomBytes(6).toString('base64url');

/**
 * By reference: a view over shared memory, and any argument large enough to share for a run
 * (maxNbytes). A large typed array, DataView or ArrayBuffer is copied once into memory kept
 * across the Parallel's runs (sharedCopies.ts): on threads a SharedArrayBuffer every worker
 * reads without a copy; a large list of numbers likewise, rebuilt as an Array in each worker. Anything else is carried by the transport's own structured clone, so
 * on threads a shared view's memory is shared, not copied, and other values are copied to each
 * worker once per run. A process cannot map this thread's memory: it gets a copy, and its
 * writes stay with it. A task reads a copy either way: what it writes never comes back.
 */
export const sharedKind: ReferenceKind<object, CopyState> = {
  name: 'shared',
  sharesLargeValues: true,
  matches: (value): value is object => isSharedView(value),
  send(value, { sharedMemory, keep }) {
    if (keep && isCopyable(value)) return keep(value) as { id: string; state: CopyState; runScoped: boolean };
    // A large list of numbers: kept as its numbers, unless an element is not one.
    const list = keep && isListShape(value) ? keep(value) : undefined;
    if (list) return list as { id: string; state: CopyState; runScoped: boolean };
    const state = isSharedView(value) && !sharedMemory ? new (value.constructor as new (source: ArrayBufferView) => ArrayBufferView)(value) : value;
    return { id: `s${ORIGIN}.${nextId++}`, state: { value: state }, runScoped: true };
  },
  rebuild: (state, id) => (copyArrived(id, state), rebuildCopy(state)),
  // A task function that captured a large binary value names its copy by id: the worker holds it before rebuilding the function.
  arrived: (state, id) => copyArrived(id, state),
  // Every kept copy is checked each run (copyUnwritten): a task may have added a key to the value it got.
  rebuildEachRun: (state) => state.kept === true,
  unwritten: (state, built) => copyUnwritten(state, built),
  forgotten: (state) => forgetCopy(state),
  inGraph: {
    refuse: 'a shared array captured by a function cannot be sent; pass it to the task as an argument, where thread workers share it',
    // The node the run's encoder put in place of a large binary value a task function captured (EncodeSession.keepLarge).
    decode: (state: { id: string }) => capturedCopy(state.id),
  },
};
