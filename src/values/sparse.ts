/**
 * Walking a sparse array by its indices costs its length, not its elements:
 * `a = []; a[2 ** 32 - 2] = 1` has 4 billion indices and one element, and a
 * loop over them took minutes where v8.serialize takes milliseconds. Every
 * walk of user data asks here first and, for such an array, visits only the
 * indices that hold an element.
 */

/** Arrays shorter than this are looped over: holes cost at most this many steps. */
const LOOP_ALWAYS_BELOW = 1 << 16;
/** Indices probed to tell a sparse array from a dense one. */
const PROBES = 64;

/**
 * The indices of `array` that hold an element, in ascending order, when the
 * array is mostly holes; undefined when a plain loop over `0..length` is the
 * cheaper walk. Either answer visits the same elements: only the cost differs.
 */
export function presentIndices(array: readonly unknown[]): number[] | undefined {
  const length = array.length;
  if (length < LOOP_ALWAYS_BELOW) return undefined;
  let holes = 0;
  const step = Math.floor(length / PROBES);
  for (let i = 0; i < PROBES; i++) if (!(i * step in array)) holes++;
  if (holes * 2 <= PROBES) return undefined;
  // Object.keys lists integer keys first, ascending, then the named ones (which stop the scan).
  const present: number[] = [];
  for (const key of Object.keys(array)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= length || String(index) !== key) break;
    present.push(index);
  }
  return present;
}

/**
 * A shallow copy of `array` holding the same elements at the same indices (holes stay holes):
 * `array.slice()` visits every index of a sparse array, 140 s for one of length 2^32-1 whose
 * few elements take microseconds to copy. `present` is what presentIndices answered.
 */
export function copyArray<T>(array: readonly T[], present = presentIndices(array)): T[] {
  if (!present) return array.slice();
  const copy = new Array<T>(array.length);
  for (const i of present) copy[i] = array[i]!;
  return copy;
}
