import { randomBytes } from 'node:crypto';
import { types } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Sent } from '../values/byReference.js';

/**
 * The copies a Parallel keeps of the large binary arguments its runs share
 * automatically (a typed array, DataView or ArrayBuffer above maxNbytes).
 *
 * Each value is copied once, into a SharedArrayBuffer when the workers see
 * this thread's memory (threads): every worker reads a view of that one copy,
 * and a task costs what a `sharedArray` costs. Elsewhere (processes) into
 * a plain buffer, sent to each worker once. A later run given the same
 * value reuses the copy, and the workers the def they hold, after a
 * compare of the bytes (a memcmp in C++: a few ms for 80 MB, against a
 * copy's hundreds) says it did not change; a changed value gets a new copy
 * and id, so no task ever reads a stale one.
 *
 * What the workers hold is bounded: when a run ends, every copy that no
 * running run uses and that the run just ended did not use is released (the
 * workers forget it, this side drops it). So a loop of runs over the same
 * value keeps one copy, and a loop over new values holds at most the last.
 */

/** What the worker rebuilds: the view itself, or (an ArrayBuffer's copy) the memory to copy into a fresh ArrayBuffer. */
export type CopyState = ({ value: unknown } | { arrayBuffer: SharedArrayBuffer | ArrayBuffer }) & { /** A copy this module made (not a user's sharedArray). */ kept?: true };

interface Entry {
  id: string;
  state: CopyState;
  /** The copy's bytes, compared with the value's at each run that meets it. */
  bytes: Buffer;
  /** The value, to drop its entry when the copy is released. */
  value: WeakRef<object>;
  /** Runs still going that use this copy. */
  runs: Set<number>;
  /** The last run that met it. */
  lastRun: number;
  /** A newer copy of the value replaced it: released as soon as no run uses it. */
  superseded: boolean;
}

let nextId = 0;
/** Ids unique across processes too: a remote worker (bullmq) keeps defs by id from every process that sends it jobs. */
const idPrefix = `k${randomBytes(6).toString('base64url')}.`;

/** The bytes of a view or buffer, without a copy. */
function bytesOf(value: ArrayBufferView | ArrayBuffer): Buffer {
  return ArrayBuffer.isView(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(value);
}

/**
 * A plain (not shared, not resizable) ArrayBuffer, or a view of a built-in type over one: the
 * values a copy carries exactly. A Buffer or a subclass keeps to structured clone, as before.
 */
export function isCopyable(value: object): value is ArrayBufferView | ArrayBuffer {
  if (types.isArrayBuffer(value)) return !(value as { resizable?: boolean }).resizable;
  if (!ArrayBuffer.isView(value) || !types.isArrayBuffer(value.buffer) || (value.buffer as { resizable?: boolean }).resizable) return false;
  // A view over part of its buffer keeps to structured clone, which carries the whole buffer and the
  // view's offset in it (a copy of the view alone would give byteOffset 0 and a shorter buffer).
  if (value.byteOffset !== 0 || value.byteLength !== value.buffer.byteLength) return false;
  const View = value.constructor;
  return (View === DataView || (types.isTypedArray(value) && Object.getPrototypeOf(value) === View.prototype)) && View !== Buffer;
}

/** The copy of `value` in `memory` (zero-filled, of the same byte length), as the same type. */
function viewOn(value: ArrayBufferView | ArrayBuffer, memory: SharedArrayBuffer | ArrayBuffer): CopyState {
  if (!ArrayBuffer.isView(value)) return { arrayBuffer: memory, kept: true };
  const View = value.constructor as new (buffer: SharedArrayBuffer | ArrayBuffer, offset: number, length: number) => ArrayBufferView;
  const length = value instanceof DataView ? value.byteLength : (value as unknown as { length: number }).length;
  return { value: new View(memory, 0, length), kept: true };
}

export class SharedCopies {
  private readonly byValue = new WeakMap<object, Entry>();
  private readonly entries = new Set<Entry>();

  /** @param sharedMemory the workers see this thread's SharedArrayBuffers: copies go there. */
  constructor(private readonly sharedMemory: boolean) {}

  /** `value` as a def for `run`: its kept copy when the bytes are the same, else a new copy. */
  share(value: ArrayBufferView | ArrayBuffer, run: number): Sent<CopyState> {
    const source = bytesOf(value);
    let entry = this.byValue.get(value);
    if (entry && !entry.bytes.equals(source)) {
      // Changed since: a new copy under a new id; the old one goes once no run reads it.
      entry.superseded = true;
      entry = undefined;
    }
    if (!entry) {
      const memory = this.sharedMemory ? new SharedArrayBuffer(source.byteLength) : new ArrayBuffer(source.byteLength);
      const bytes = Buffer.from(memory);
      source.copy(bytes);
      entry = { id: `${idPrefix}${nextId++}`, state: viewOn(value, memory), bytes, value: new WeakRef(value), runs: new Set(), lastRun: run, superseded: false };
      this.entries.add(entry);
      this.byValue.set(value, entry);
    }
    entry.runs.add(run);
    entry.lastRun = run;
    return { id: entry.id, state: entry.state, runScoped: false };
  }

  /** `run` ended: the ids the workers may forget (copies no run uses any more, and that `run` did not use). */
  endRun(run: number): string[] {
    const released: string[] = [];
    for (const entry of this.entries) {
      entry.runs.delete(run);
      if (entry.runs.size || (!entry.superseded && entry.lastRun === run)) continue;
      this.entries.delete(entry);
      const value = entry.value.deref();
      if (value && this.byValue.get(value) === entry) this.byValue.delete(value);
      released.push(entry.id);
    }
    return released;
  }
}

/**
 * In the worker: a kept copy whose value a task gets as memory of its own (an ArrayBuffer's, and
 * any copy a process received). What a task writes there stays with this worker, unseen by the
 * main side's compare: the next run would read it as the value. So the worker keeps the copy it
 * received untouched and rebuilds the value from it for each run (a memcpy per run and worker,
 * against the copy and send a changed value costs). A view over shared memory (threads) is not
 * rebuilt: a write lands in the main side's copy, whose compare then sees the change.
 */
export function copiedPerRun(state: CopyState): boolean {
  if (!state.kept) return false;
  return !('value' in state) || !((state.value as ArrayBufferView).buffer instanceof SharedArrayBuffer);
}

/** In the worker: the value an earlier run got from `state` still holds its bytes (a memcmp: cheaper than a new copy and its collection). */
export function copyUnwritten(state: CopyState, built: unknown): boolean {
  const received = 'value' in state ? bytesOf(state.value as ArrayBufferView) : bytesOf(state.arrayBuffer as ArrayBuffer);
  return received.equals(bytesOf(built as ArrayBufferView | ArrayBuffer));
}

/** In the worker: the value a copy stands for (a fresh copy of it when copiedPerRun says so). */
export function rebuildCopy(state: CopyState): unknown {
  if ('value' in state) {
    if (!copiedPerRun(state)) return state.value;
    const view = state.value as ArrayBufferView;
    const memory = (view.buffer as ArrayBuffer).slice(view.byteOffset, view.byteOffset + view.byteLength);
    const View = view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
    return new View(memory);
  }
  const source = state.arrayBuffer;
  const copy = new ArrayBuffer(source.byteLength);
  new Uint8Array(copy).set(new Uint8Array(source));
  return copy;
}

let collect: (() => void) | undefined;
let collecting = false;

/**
 * In the worker: a copy was forgotten. An idle worker allocates nothing, so its collector would
 * not run, and the view it dropped would keep the copy's memory (tens of MB each) alive however
 * many runs pass: a full collection, once for all the copies one message forgets, frees it now.
 * It costs a few ms on a worker's small heap, once per released copy, never per task.
 */
export function forgetCopy(state: CopyState): void {
  if (!state.kept || collecting) return;
  collecting = true;
  setImmediate(() => {
    collecting = false;
    if (!collect) {
      // The one way to ask V8 for a collection at run time without a command-line flag.
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
    collect();
  });
}
