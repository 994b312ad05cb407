import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { inspect, types } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Sent } from '../values/byReference.js';
import { own, removeFile, tempPath } from './tempFiles.js';

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
 * A plain array of numbers (a list of a million ints) is kept the same way, as an Int32Array copy
 * when every element is a 32-bit integer (half the fresh memory of doubles, and the worker's Array
 * is then built of small integers, which V8 stores unboxed: half the time), else as a Float64Array:
 * its elements checked in one pass and copied in another (a few ms, where a structured clone per
 * worker cost tens), compared element by element at the next run, and rebuilt as an Array in
 * each worker for each run (a task may freeze or extend the one it got). Only an Array that a structured clone would give back as exactly those numbers
 * qualifies (no holes, no other own enumerable keys, Array's own prototype); anything else keeps
 * to the transport's clone.
 *
 * What the workers hold is bounded: when a run ends, every copy that no
 * running run uses and that the run just ended did not use is released (the
 * workers forget it, this side drops it). So a loop of runs over the same
 * value keeps one copy, and a loop over new values holds at most the last.
 */

/** A view's shape, to rebuild it over a copy of its buffer: the built-in type by name, where it starts, its length (elements; bytes for a DataView). */
export interface ViewShape { type: string; offset: number; length: number }

/**
 * What the worker rebuilds: a copy of a whole buffer (`memory`), given as it is (an ArrayBuffer's
 * copy) or through a view of it (`view`); or, for a value this module did not copy, the value.
 * The view travels as its shape, not as a view: v8.serialize (processes) writes a view over part
 * of its buffer as that part alone, with byteOffset 0.
 */
export type CopyState =
  | { value: unknown; kept?: undefined }
  | { memory: SharedArrayBuffer | ArrayBuffer; view?: ViewShape; list?: ListNumbers; stamp?: number; kept: true }
  /** The copy in a file (child processes on this machine): each worker reads it once. */
  | { file: string; view?: ViewShape; list?: ListNumbers; stamp?: number; kept: true };

/** How a list's copy holds its numbers: as 32-bit integers when every one is (and none is -0), else as doubles. */
export type ListNumbers = 'int32' | 'float64';

/**
 * A list's copy begins with a header: its stamp (an Int32, 0 while no copy is valid there), then
 * padding to keep doubles aligned; the numbers follow. No task ever sees a list's copy (each worker
 * builds an Array from it), so the memory of a released list copy is taken again by the next list
 * of its size instead of fresh memory (on this kind of machine a fresh 4 KB page cost up to 12 us:
 * 12-25 ms of a 4 MB copy). The stamp makes that safe: it is cleared when the copy is released and
 * set once the next one is written, and a worker checks it before and after it reads the numbers,
 * so a batch of a run already over (a cancelled batch still in a worker's port) that reads
 * memory written since fails, and never builds a list of mixed numbers.
 */
const LIST_HEADER_BYTES = 8;
let nextStamp = 0;
/** Released list copies (shared memory only), by size, at most SPARE_LISTS. */
const SPARE_LISTS = 2;
/**
 * A spare is dropped once this many runs have ended since its release without one taking it: a loop
 * of runs over new lists takes each spare at the next run, and runs that use no list (or lists of
 * other sizes) let it go, instead of holding up to SPARE_LISTS copies (each as large as its list,
 * hundreds of MB for a list of tens of millions of numbers) until close().
 */
const SPARE_RUNS = 2;

/**
 * Where a Parallel's copies go: shared memory the workers read (threads), a buffer sent to each
 * worker (a remote worker), or a file each worker reads once (child processes: an 80 MB copy
 * through each child's channel cost a serialization, a pipe and a decode per worker).
 */
export type CopyPlace = 'shared' | 'buffer' | 'file';

/** One copy of one ArrayBuffer, shared by every value over it (the buffer itself, its views); or of one list of numbers. */
interface Entry {
  id: string;
  memory: SharedArrayBuffer | ArrayBuffer;
  /** The copy's bytes, compared with the buffer's at each run that meets it. */
  bytes: Buffer;
  /** A list's copy: its numbers, compared with the list's at each run that meets it. */
  numbers: Int32Array | Float64Array | undefined;
  /** The def of each value over the buffer, made once per copy (the same value: the same id in every run). */
  defs: WeakMap<object, Sent<CopyState>>;
  /** Every id handed out for this copy: the workers forget them all when it is released. */
  ids: string[];
  /** The file holding the copy ('file'), removed when the copy is released. */
  file: string | undefined;
  /** The buffer (or list), to drop its entry when the copy is released. */
  buffer: WeakRef<object>;
  /** Runs still going that use this copy. */
  runs: Set<number>;
  /** The last run that met it; its bytes were compared for that run already. */
  lastRun: number;
  /** A newer copy of the buffer replaced it: released as soon as no run uses it. */
  superseded: boolean;
}

let nextId = 0;
/** Ids unique across processes too: a remote worker (bullmq) keeps defs by id from every process that sends it jobs. */
const idPrefix = `k${randomBytes(6).toString('base64url')}.`;

/** The bytes of a view or buffer, without a copy. */
function bytesOf(value: ArrayBufferView | ArrayBuffer | SharedArrayBuffer): Buffer {
  return ArrayBuffer.isView(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(value);
}

/** The ArrayBuffer a copyable value lives in (itself, for an ArrayBuffer). */
export function bufferOf(value: ArrayBufferView | ArrayBuffer): ArrayBuffer {
  return (ArrayBuffer.isView(value) ? value.buffer : value) as ArrayBuffer;
}

/**
 * A plain (not shared, not resizable) ArrayBuffer, or a view of a built-in type over one: the
 * values a copy carries exactly. A Buffer or a subclass keeps to structured clone, as before.
 */
export function isCopyable(value: object): value is ArrayBufferView | ArrayBuffer {
  if (types.isArrayBuffer(value)) return !(value as { resizable?: boolean }).resizable;
  if (!ArrayBuffer.isView(value) || !types.isArrayBuffer(value.buffer) || (value.buffer as { resizable?: boolean }).resizable) return false;
  const View = value.constructor;
  return (View === DataView || (types.isTypedArray(value) && Object.getPrototypeOf(value) === View.prototype)) && View !== Buffer;
}

/**
 * What util.inspect prints for an Array of `length` elements with no other own enumerable key
 * (string or symbol) and Array's own prototype, when told to print no element: the one way to see
 * those keys without listing a million indices (Object.keys takes tens of ms; this reads the
 * named keys alone). Any other output (a key, a subclass, a proxy) means: not a plain list.
 */
const INSPECT_NO_ELEMENTS = { maxArrayLength: 0, depth: 0, customInspect: false, showProxy: true, breakLength: Infinity } as const;
function bareArrayText(length: number): string {
  return length === 0 ? '[]' : `[ ... ${length} more item${length === 1 ? '' : 's'} ]`;
}

/**
 * An Array a structured clone gives back as nothing but its elements (checked here), and whose
 * elements are then to be checked as numbers: Array's own prototype, not a proxy, no own
 * enumerable key but its indices. Cheap: no element is read.
 */
export function isListShape(value: object): value is unknown[] {
  return Array.isArray(value) && !types.isProxy(value) && Object.getPrototypeOf(value) === Array.prototype && value.length > 0 && inspect(value, INSPECT_NO_ELEMENTS) === bareArrayText(value.length);
}

/**
 * How a copy can hold `list`'s numbers, or undefined when an element is not a number (no hole: a
 * hole reads undefined, unless a prototype holds that index).
 */
function listNumbers(list: readonly unknown[]): ListNumbers | undefined {
  // A hole would read an index Array.prototype or Object.prototype holds, as if it were the list's own.
  if (hasIndexKey(Array.prototype) || hasIndexKey(Object.prototype)) return undefined;
  let i = 0;
  for (; i < list.length; i++) {
    const v = list[i];
    // -0 is no 32-bit integer: an Int32Array would give it back as 0.
    if (typeof v !== 'number' || (v | 0) !== v || (v === 0 && 1 / v < 0)) break;
  }
  if (i === list.length) return 'int32';
  for (; i < list.length; i++) if (typeof list[i] !== 'number') return undefined;
  return 'float64';
}

function hasIndexKey(object: object): boolean {
  return Object.getOwnPropertyNames(object).some((key) => /^(0|[1-9]\d*)$/.test(key));
}

/**
 * `list`'s elements into `into` if each is still what listNumbers saw (a number; a 32-bit integer
 * for an Int32Array) and the list still has `into.length` of them; false at the first that is
 * not, or when its length changed (a getter changed its mind). The loop runs to `into.length`,
 * not to the list's length: a getter that shortened the list while it was read would otherwise
 * leave the copy's last elements as they were (zeros, or a released list's numbers), and every
 * worker would build its Array from them.
 */
function copyNumbers(list: readonly unknown[], into: Int32Array | Float64Array): boolean {
  if (into instanceof Float64Array) return copyDoubles(list, into);
  const n = into.length;
  for (let i = 0; i < n; i++) {
    const v = list[i];
    if (typeof v !== 'number' || (v | 0) !== v || (v === 0 && 1 / v < 0)) return false;
    into[i] = v;
  }
  return list.length === n;
}

function copyDoubles(list: readonly unknown[], into: Float64Array): boolean {
  const n = into.length;
  for (let i = 0; i < n; i++) {
    const v = list[i];
    if (typeof v !== 'number') return false;
    into[i] = v;
  }
  return list.length === n;
}

/** Every element of `list` is the number in `numbers` at its index (Object.is: 0 and -0 differ, NaN is NaN). */
function sameNumbers(list: readonly unknown[], numbers: Int32Array | Float64Array): boolean {
  const length = numbers.length;
  if (list.length !== length) return false;
  // To the copy's length, and the list's checked again after: a getter that shortened or
  // lengthened the list while it was compared makes it another list (copyNumbers).
  for (let i = 0; i < length; i++) {
    const v = list[i];
    const n = numbers[i]!;
    if (v === n ? v === 0 && 1 / v !== 1 / n : !(v !== v && n !== n)) return false;
  }
  return list.length === length;
}

/** What rebuilds `value` over `memory` (or the file holding it), a copy of its whole buffer (a view keeps its offset in it). */
function stateOn(value: ArrayBufferView | ArrayBuffer | readonly unknown[], memory: SharedArrayBuffer | ArrayBuffer, file: string | undefined, numbers: Int32Array | Float64Array | undefined): CopyState {
  const where = file === undefined ? { memory } : { file };
  if (Array.isArray(value)) {
    return { ...where, list: numbers instanceof Int32Array ? 'int32' : 'float64', stamp: Atomics.load(new Int32Array(memory, 0, 1), 0), kept: true };
  }
  if (!ArrayBuffer.isView(value)) return { ...where, kept: true };
  const length = value instanceof DataView ? value.byteLength : (value as unknown as { length: number }).length;
  return { ...where, view: { type: value.constructor.name, offset: value.byteOffset, length }, kept: true };
}

export class SharedCopies {
  private readonly byBuffer = new WeakMap<object, Entry>();
  private readonly entries = new Set<Entry>();
  /** The memory of released list copies, to take again (LIST_HEADER_BYTES), with the count of run ends when each was released. */
  private spare: { memory: SharedArrayBuffer; released: number }[] = [];
  /** Runs ended so far (endRun calls): how old a spare is. */
  private ended = 0;

  /** @param place where the copies go (CopyPlace). */
  constructor(private readonly place: CopyPlace) {}

  /**
   * `value` as a def for `run`: a view over the kept copy of its buffer when the buffer's bytes
   * are the same, else over a new copy. Copies are per buffer: two views of one buffer are two
   * views of one copy, so on shared memory what a task writes through one it reads through the other.
   */
  share(value: ArrayBufferView | ArrayBuffer, run: number): Sent<CopyState>;
  /** A list (isListShape) likewise, kept as its numbers; undefined when an element is not a number. */
  share(value: ArrayBufferView | ArrayBuffer | readonly unknown[], run: number): Sent<CopyState> | undefined;
  share(value: ArrayBufferView | ArrayBuffer | readonly unknown[], run: number): Sent<CopyState> | undefined {
    if (Array.isArray(value)) return this.shareList(value, run);
    const buffer = bufferOf(value as ArrayBufferView | ArrayBuffer);
    let entry = this.byBuffer.get(buffer);
    // Compared once per run: a second view of the buffer in the same run finds it checked.
    if (entry && entry.lastRun !== run && !entry.bytes.equals(bytesOf(buffer))) {
      // Changed since: a new copy under new ids; the old one goes once no run reads it.
      entry.superseded = true;
      entry = undefined;
    }
    if (!entry) {
      const memory = this.memory(buffer.byteLength);
      bytesOf(buffer).copy(Buffer.from(memory));
      entry = this.add(buffer, memory, undefined, run);
    }
    return this.defOf(entry, value, run);
  }

  private shareList(list: readonly unknown[], run: number): Sent<CopyState> | undefined {
    let entry = this.byBuffer.get(list);
    if (entry && entry.lastRun !== run && !sameNumbers(list, entry.numbers!)) {
      entry.superseded = true;
      entry = undefined;
    }
    if (!entry) {
      // Checked before the memory is taken: a sparse list of length 2^32-1 stops at its first hole.
      const held = listNumbers(list);
      if (!held) return undefined;
      const byteLength = LIST_HEADER_BYTES + list.length * (held === 'int32' ? Int32Array : Float64Array).BYTES_PER_ELEMENT;
      const memory = this.spareList(byteLength) ?? this.memory(byteLength);
      const numbers = held === 'int32' ? new Int32Array(memory, LIST_HEADER_BYTES) : new Float64Array(memory, LIST_HEADER_BYTES);
      if (!copyNumbers(list, numbers)) return undefined; // a getter changed its mind
      // Set after the numbers: a worker that reads this stamp reads these numbers.
      Atomics.store(new Int32Array(memory, 0, 1), 0, (nextStamp = (nextStamp % 0x7fffffff) + 1));
      entry = this.add(list, memory, numbers, run);
    }
    return this.defOf(entry, list, run);
  }

  /** The memory of a released list copy of `byteLength` bytes, if one is kept. */
  private spareList(byteLength: number): SharedArrayBuffer | undefined {
    const at = this.spare.findIndex(({ memory }) => memory.byteLength === byteLength);
    return at < 0 ? undefined : this.spare.splice(at, 1)[0]!.memory;
  }

  private memory(byteLength: number): SharedArrayBuffer | ArrayBuffer {
    return this.place === 'shared' ? new SharedArrayBuffer(byteLength) : new ArrayBuffer(byteLength);
  }

  /** A new copy of `key` (a buffer, or a list) in `memory`, already filled. */
  private add(key: object, memory: SharedArrayBuffer | ArrayBuffer, numbers: Int32Array | Float64Array | undefined, run: number): Entry {
    const bytes = Buffer.from(memory);
    const id = `${idPrefix}${nextId++}`;
    let file: string | undefined;
    if (this.place === 'file') {
      file = tempPath(`copy-${id}`);
      writeFileSync(file, bytes);
      own(file);
    }
    const entry: Entry = { id, memory, bytes, numbers, defs: new WeakMap(), ids: [], file, buffer: new WeakRef(key), runs: new Set(), lastRun: run, superseded: false };
    this.entries.add(entry);
    this.byBuffer.set(key, entry);
    return entry;
  }

  /** The def of `value` over `entry`'s copy for `run`: the same one in every run while the copy stands. */
  private defOf(entry: Entry, value: object, run: number): Sent<CopyState> {
    entry.runs.add(run);
    entry.lastRun = run;
    let sent = entry.defs.get(value);
    if (!sent) {
      const id = entry.ids.length ? `${entry.id}.${entry.ids.length}` : entry.id;
      sent = { id, state: stateOn(value as ArrayBufferView | ArrayBuffer | readonly unknown[], entry.memory, entry.file, entry.numbers), runScoped: false };
      entry.ids.push(id);
      entry.defs.set(value, sent);
    }
    return sent;
  }

  /** `run` ended: the ids the workers may forget (copies no run uses any more, and that `run` did not use). */
  endRun(run: number): string[] {
    const released: string[] = [];
    // Spares SPARE_RUNS run ends did not take: no loop of runs over lists of their size is going on.
    const ended = ++this.ended;
    if (this.spare.length) this.spare = this.spare.filter((spare) => ended - spare.released < SPARE_RUNS);
    for (const entry of this.entries) {
      entry.runs.delete(run);
      if (entry.runs.size || (!entry.superseded && entry.lastRun === run)) continue;
      this.entries.delete(entry);
      const buffer = entry.buffer.deref();
      if (buffer && this.byBuffer.get(buffer) === entry) this.byBuffer.delete(buffer);
      if (entry.file) removeFile(entry.file);
      released.push(...entry.ids);
      if (entry.numbers && entry.memory instanceof SharedArrayBuffer) {
        // Cleared before anything else is written there: a late reader of this copy fails.
        Atomics.store(new Int32Array(entry.memory, 0, 1), 0, 0);
        this.spare.push({ memory: entry.memory, released: ended });
        if (this.spare.length > SPARE_LISTS) this.spare.shift();
      }
    }
    return released;
  }

  /** The Parallel closed: its workers are gone, and so go the files of its copies. */
  dispose(): void {
    for (const entry of this.entries) if (entry.file) removeFile(entry.file);
    this.entries.clear();
    this.spare = [];
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
  if (state.list) return true; // an Array a task got is its own to write: rebuilt, unless unwritten
  return state.view === undefined || !('memory' in state) || !(state.memory instanceof SharedArrayBuffer);
}

/** In the worker: what each copy received in a file holds, read once. */
const readCopies = new WeakMap<CopyState, ArrayBuffer>();

/** In the worker: the memory a kept copy arrived in (its file read once, into a buffer of its own). */
function memoryOf(state: CopyState & { kept: true }): SharedArrayBuffer | ArrayBuffer {
  if ('memory' in state) return state.memory;
  let memory = readCopies.get(state);
  if (!memory) {
    const read = readFileSync(state.file);
    memory = (read.byteOffset === 0 && read.byteLength === read.buffer.byteLength ? read.buffer : read.buffer.slice(read.byteOffset, read.byteOffset + read.byteLength)) as ArrayBuffer;
    readCopies.set(state, memory);
  }
  return memory;
}

/** In the worker: the value an earlier run got from `state` still holds its bytes, the whole buffer (a memcmp: cheaper than a new copy and its collection). */
export function copyUnwritten(state: CopyState, built: unknown): boolean {
  if (!state.kept) return false;
  // A list a task got may have been frozen, sealed, given a hidden key or a read-only element:
  // nothing cheap sees all that, so every run gets a new Array (about as long as a compare).
  if (state.list) return false;
  // A key a task added (enumerable or not, a symbol), or the value made non-extensible: inspect with
  // hidden keys and no element reads the keys alone, compared with what the value showed when built.
  if (!Object.isExtensible(built) || keysText(built as object) !== builtKeys.get(built as object)) return false;
  // A view of the shared copy (threads): its bytes are the copy's, which the main side compares.
  if (!copiedPerRun(state)) return true;
  return bytesOf(memoryOf(state)).equals(bytesOf(bufferOf(built as ArrayBufferView | ArrayBuffer)));
}

/** What each value a copy was built into showed of its keys then (keysText). */
const builtKeys = new WeakMap<object, string>();
const INSPECT_KEYS = { ...INSPECT_NO_ELEMENTS, showHidden: true } as const;
function keysText(value: object): string {
  return inspect(value, INSPECT_KEYS);
}

/** In the worker: what rebuildCopy built, noted for copyUnwritten. */
function noteBuilt<T>(value: T): T {
  builtKeys.set(value as object, keysText(value as object));
  return value;
}

/** In the worker: the value a copy stands for (over a fresh copy of its memory when copiedPerRun says so). */
export function rebuildCopy(state: CopyState): unknown {
  if (!state.kept) return state.value;
  lastBuilt = performance.now();
  const received = memoryOf(state);
  if (state.list) return listFrom(state, received);
  let memory = received;
  if (copiedPerRun(state)) {
    memory = new ArrayBuffer(received.byteLength);
    new Uint8Array(memory).set(new Uint8Array(received));
  }
  if (!state.view) return noteBuilt(memory);
  const View = (globalThis as unknown as Record<string, new (buffer: ArrayBufferLike, offset: number, length: number) => ArrayBufferView>)[state.view.type]!;
  return noteBuilt(new View(memory, state.view.offset, state.view.length));
}

/** In the worker: the list a list copy holds, built from its numbers while its stamp says they are its own. */
function listFrom(state: CopyState & { kept: true }, memory: SharedArrayBuffer | ArrayBuffer): number[] {
  const stamp = new Int32Array(memory, 0, 1);
  const valid = () => state.stamp === undefined || Atomics.load(stamp, 0) === state.stamp;
  const fail = () =>
    new Error('joblet: a large list reached this worker after its run ended, and its memory holds another list now: this task belongs to a run that is over');
  if (!valid()) throw fail();
  const list = listOf(state.list === 'int32' ? new Int32Array(memory, LIST_HEADER_BYTES) : new Float64Array(memory, LIST_HEADER_BYTES));
  if (!valid()) throw fail();
  return list;
}

/** In the worker: a new Array of `numbers` (one loop per type, each kept monomorphic for V8). */
function listOf(numbers: Int32Array | Float64Array): number[] {
  return numbers instanceof Int32Array ? listOfInts(numbers) : listOfDoubles(numbers);
}
function listOfInts(numbers: Int32Array): number[] {
  const list = new Array<number>(numbers.length);
  for (let i = 0; i < numbers.length; i++) list[i] = numbers[i]!;
  return list;
}
function listOfDoubles(numbers: Float64Array): number[] {
  const list = new Array<number>(numbers.length);
  for (let i = 0; i < numbers.length; i++) list[i] = numbers[i]!;
  return list;
}

/** In the worker: the kept copies that arrived, by id: a task function that captured a large binary value names its copy so. */
const arrived = new Map<string, { state: CopyState; built?: unknown }>();

/** In the worker: the def of a kept copy arrived (its value is built on arrival). */
export function copyArrived(id: string, state: CopyState): void {
  if (state.kept && arrived.get(id)?.state !== state) arrived.set(id, { state });
}

/**
 * In the worker: the value of kept copy `id` for a task function that captured it, rebuilt with
 * the function (once per run): over the shared copy itself, or a fresh copy when copiedPerRun says
 * so, unless the one an earlier run got holds the copy's bytes still (a memcmp, as for an argument).
 */
export function capturedCopy(id: string): unknown {
  const held = arrived.get(id);
  if (!held) throw new Error(`joblet: the copy ${id} of a large value the task function captured never reached this worker`);
  if (held.built !== undefined && copyUnwritten(held.state, held.built)) return held.built;
  return (held.built = rebuildCopy(held.state));
}

let collect: (() => void) | undefined;
/** Bytes of the copies forgotten since the last collection. */
let forgottenBytes = 0;
/** When this worker last built a value from a copy: a run over copies is going on. */
let lastBuilt = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

/** Forgotten copies this large are collected at once; smaller ones wait for the worker to idle. */
const COLLECT_AT_BYTES = 64 * 2 ** 20;
/** How long without a copy built counts as idle. */
const IDLE_MS = 100;

/**
 * In the worker: a copy was forgotten. Its memory goes only when the collector runs, and an
 * idle worker allocates nothing, so its collector would not run: the view it dropped would keep
 * the copy (tens of MB each) alive however many runs pass. A full collection frees it, but costs
 * 15-45 ms on a worker's heap (two workers at once on two cores): paid at every run, it was a
 * third of a loop of runs over new 1,000,000-int lists. So the forgotten copies are collected
 * once they reach COLLECT_AT_BYTES (an 80 MB array: at once), or once the worker has built none
 * for IDLE_MS (the loop of runs is over): what a worker holds stays bounded, and a loop of runs
 * over small copies collects once in many runs.
 */
export function forgetCopy(state: CopyState): void {
  if (!state.kept) return;
  for (const [id, held] of arrived) if (held.state === state) arrived.delete(id);
  forgottenBytes += 'memory' in state ? state.memory.byteLength : (readCopies.get(state)?.byteLength ?? 0);
  if (forgottenBytes >= COLLECT_AT_BYTES) {
    // After the message that forgot it: the copies it names are all dropped by then.
    setImmediate(collectForgotten);
    return;
  }
  idleTimer ??= later(IDLE_MS);
}

function collectWhenIdle(): void {
  idleTimer = undefined;
  const since = performance.now() - lastBuilt;
  if (since < IDLE_MS) idleTimer = later(IDLE_MS - since);
  else collectForgotten();
}

/** collectWhenIdle in `ms`; the timer keeps no worker alive that would otherwise exit. */
function later(ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(collectWhenIdle, ms);
  timer.unref?.();
  return timer;
}

function collectForgotten(): void {
  if (forgottenBytes === 0) return; // collected already (several copies forgotten in one message)
  forgottenBytes = 0;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (!collect) {
    // The one way to ask V8 for a collection at run time without a command-line flag.
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}
