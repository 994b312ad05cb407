/**
 * The ArrayBuffer behind `bytes`, when it can be moved with a message: it
 * must be owned whole (not a slice of a shared pool) and not shared memory.
 * A leaf module: both the pool and the worker runtimes use it.
 */
export function transferable(bytes: unknown): ArrayBuffer[] | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined;
  const { buffer } = bytes;
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength) return undefined;
  return [buffer];
}
