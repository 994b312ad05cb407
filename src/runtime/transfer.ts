/**
 * The ArrayBuffer behind `bytes`, when it can be moved with a message: it
 * must be owned whole (not a slice of a shared pool) and not shared memory.
 * Only large buffers move: for them the copy is what costs (80 MB: 74 ms copied,
 * 4 ms moved). A leaf module: both the pool and the worker runtimes use it.
 */
/** Below this, a copy costs less than what a moved buffer complicates (a batch sent again after a crash). */
export const TRANSFER_MIN_BYTES = 1024 * 1024;

export function transferable(bytes: unknown): ArrayBuffer[] | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < TRANSFER_MIN_BYTES) return undefined;
  const { buffer } = bytes;
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength) return undefined;
  return [buffer];
}
