/**
 * piscina's worker for bench/sharing/array.ts: the same task as joblet's
 * `(i, array) => array[i]`, on the array piscina copied to this thread.
 * Imports nothing: piscina loads this file alone (dist/bench/lib/workers/read-element.js).
 */
export default function readElement({ i, array }: { i: number; array: Float64Array }): number {
  return array[i]!;
}
