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
let everWrapped = false;

/** Name of the serializer that encodes wrapped values (cloudpickle's role in joblib). */
export const FALLBACK_SERIALIZER = 'closure';

export function wrapNonSerializable<T extends object>(value: T): T {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    throw new TypeError(
      `wrapNonSerializable expects a function or an object, got \`${String(value)}\` (${value === null ? 'null' : typeof value})`,
    );
  }
  if (targets.has(value)) return value;
  const proxy = new Proxy(value, {});
  targets.set(proxy, value);
  everWrapped = true;
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

/** False until the first `wrapNonSerializable` call: then payloads may need a scan. */
export function anyWrapped(): boolean {
  return everWrapped;
}
