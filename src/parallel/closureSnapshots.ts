import type { WireDef } from '../runtime/protocol.js';

/**
 * The snapshots of task functions that workers hold, shared by every
 * Parallel of this process (a worker pool outlives one run, and runs of one
 * Parallel may overlap). Each run sends the snapshot of a closure it took at
 * submission; when a later run sends a different one (its captured values
 * changed), the workers may drop the earlier one, but only once no run in
 * progress still uses it. So a long-lived pool holds one snapshot per
 * function, not one per run.
 */
const lastSnapshot = new WeakMap<Function, string>();
const liveUses = new Map<string, number>();
const superseded = new Set<string>();

/**
 * Task functions whose capture turned out empty (they use arguments and globals only): there
 * is no snapshot to take again, so their def is kept for good and later runs skip the
 * inspector, about half a millisecond per run. A function that captures anything is
 * captured again at every run, so each run sees the values of that moment.
 */
const pureDefs = new WeakMap<Function, { def: WireDef; absentGlobals: readonly string[] }>();

/** The def kept for good for a function that captures nothing, if it was sent before. */
export function pureSnapshot(fn: Function): WireDef | undefined {
  const kept = pureDefs.get(fn);
  if (kept === undefined) return undefined;
  // Given properties since (`fn.cache = ...`), or a global it reads defined since (`globalThis.x = ...`):
  // they travel in its snapshot, taken again.
  if (onlyOwnIntrinsics(fn) && !kept.absentGlobals.some((name) => name in globalThis)) return kept.def;
  pureDefs.delete(fn);
  return undefined;
}

/** `absentGlobals`: the globals it reads that did not exist when it was captured. */
export function keepPureSnapshot(fn: Function, def: WireDef, absentGlobals: readonly string[]): void {
  if (onlyOwnIntrinsics(fn)) pureDefs.set(fn, { def, absentGlobals });
}

const INTRINSIC = new Set<PropertyKey>(['length', 'name', 'prototype', 'arguments', 'caller']);

/**
 * The function has no own properties but those every function has: what its snapshot holds
 * besides its source (`fn.table = {...}`, whose contents a program may change between runs)
 * would go stale in a def kept for good.
 */
function onlyOwnIntrinsics(fn: Function): boolean {
  for (const key of Reflect.ownKeys(fn)) if (!INTRINSIC.has(key)) return false;
  // An ordinary function's prototype with members of its own (`F.prototype.area = ...`) travels too.
  const prototype = (fn as { prototype?: unknown }).prototype;
  if (prototype !== null && typeof prototype === 'object') for (const key of Reflect.ownKeys(prototype)) if (key !== 'constructor') return false;
  return true;
}

/** The snapshots one run uses: counted live until `end()`, which says which ids the workers may drop. */
export class RunSnapshots {
  private readonly used = new Set<string>();

  /** The run sends snapshot `id` of `fn`. */
  use(fn: Function, id: string): void {
    if (!this.used.has(id)) {
      this.used.add(id);
      liveUses.set(id, (liveUses.get(id) ?? 0) + 1);
    }
    const previous = lastSnapshot.get(fn);
    if (previous !== undefined && previous !== id) superseded.add(previous);
    superseded.delete(id);
    lastSnapshot.set(fn, id);
  }

  /** The run ended: the superseded snapshots no run in progress uses any more. */
  end(): string[] {
    if (!this.used.size && !superseded.size) return [];
    for (const id of this.used) {
      const uses = (liveUses.get(id) ?? 1) - 1;
      if (uses > 0) liveUses.set(id, uses);
      else liveUses.delete(id);
    }
    const released: string[] = [];
    for (const id of superseded) {
      if (!liveUses.has(id)) {
        superseded.delete(id);
        released.push(id);
      }
    }
    return released;
  }
}
