import { randomBytes } from 'node:crypto';
import { SerializationError } from '../errors.js';
import { noteReferenceInUse, type ReferenceKind } from '../values/byReference.js';
import { locateFailure, serializeIn } from './payload.js';
import { getSerializer } from './registry.js';

/**
 * `wrapNonSerializable(x)` marks one function or object for the slow path.
 *
 * The mark is a transparent Proxy: in the main thread the wrapped value
 * behaves as the original (calls, property reads), while V8's serializer
 * refuses any Proxy, so a fast `structured` payload that contains one fails
 * its first attempt and joblet substitutes the marked values then, paying
 * for the scan only when something is marked.
 */
const targets = new WeakMap<object, object>();

/** Name of the serializer that encodes wrapped values (cloudpickle's role in joblib). */
export const FALLBACK_SERIALIZER = 'closure';

/**
 * Mark a function or object that the run's serializer cannot carry so that
 * joblet encodes it with the closure codec instead (joblib's
 * `wrap_non_picklable_objects`). Returns a proxy that behaves as `value`.
 * @example p.run([delayed(fit)(wrapNonSerializable(model), rows)])
 */
export function wrapNonSerializable<T extends object>(value: T): T {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    throw new TypeError(
      `wrapNonSerializable expects a function or an object, got \`${String(value)}\` (${value === null ? 'null' : typeof value})`,
    );
  }
  if (targets.has(value)) return value;
  const proxy = new Proxy(value, {});
  targets.set(proxy, value);
  noteReferenceInUse();
  return proxy;
}

export function isWrapped(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && targets.has(value);
}

/** The original behind a wrapped value (the value itself when not wrapped). */
export function unwrap<T>(value: T): T {
  return ((typeof value === 'object' || typeof value === 'function') && value !== null
    ? (targets.get(value) as T | undefined) ?? value
    : value);
}

let nextId = 0;
// Ids unique across processes too: a remote worker (bullmq) holds defs by id from every producer that sends it jobs.
const ORIGIN = randomBytes(6).toString('base64url');

/**
 * By reference: a wrapped value, encoded once per run by the fallback serializer whatever the
 * run's serializer, and rebuilt once per worker. Inside a graph the closure codec encodes, it
 * is the codec itself that carries the value it wraps.
 */
export const wrappedKind: ReferenceKind<object, { serializer: string; data: Uint8Array | string }> = {
  name: 'wrapped',
  matches: (value): value is object => targets.has(value),
  send(value, context) {
    const fallback = getSerializer(FALLBACK_SERIALIZER);
    const target = unwrap(value);
    let data: Uint8Array | string;
    try {
      data = serializeIn(fallback, target, context.session);
    } catch (error) {
      const { path, taskIndex, serializer } = context;
      const failure = locateFailure(error, target, { serializer: fallback, root: path, phase: 'serialize-task', taskIndex, wrapped: true });
      throw new SerializationError({
        ...failure.toDetails(),
        problem: `${failure.problem} (a wrapNonSerializable value goes through the fallback serializer '${fallback.name}', whatever the run's serializer '${serializer}')`,
      });
    }
    return { id: `w${ORIGIN}.${nextId++}`, state: { serializer: fallback.name, data }, runScoped: true };
  },
  rebuild: (state) => getSerializer(state.serializer).deserialize(state.data),
  serializers: (state) => [state.serializer],
  inGraph: { inline: (value) => unwrap(value) },
};
