import { createHash } from 'node:crypto';
import { types } from 'node:util';
import { SerializationError } from '../errors.js';
import { encodingInitializer, holdsWeakKeys, sessionCapture, sessionEsModules } from '../closure/codec.js';
import { describeFunction } from '../source/functionSource.js';
import { intrinsicPath } from '../source/intrinsics.js';
import { REF_KEY, encodeValue, locateFailure, prepareValue, serializeIn } from '../serialize/payload.js';
import { getSerializer } from '../serialize/registry.js';
import { capturedVariablesRemedy } from '../serialize/remedies.js';
import type { Serializer } from '../serialize/types.js';
import { clonesAsIs } from '../serialize/scan.js';
import type { WireDef } from '../runtime/protocol.js';
import '../sharing/kinds.js';
import { estimateBytes } from '../sharing/bytes.js';
import { isCopyable, type SharedCopies } from '../sharing/sharedCopies.js';
import { anyReferenceInUse, largeValueKind, ReferenceRefusal, referenceKindOf, type ReferenceKind, type SendContext } from '../values/byReference.js';
import { NESTING_LIMIT, someInGraph, someInGraphOrDeeper } from '../values/graph.js';
import { joinPath } from '../values/paths.js';
import { clonesAmiss, isLeafObject } from '../values/kinds.js';
import { EncodeSession } from '../values/session.js';
import { keepPureSnapshot, pureSnapshot, RunSnapshots } from './closureSnapshots.js';
import { hasSoleArgument, type Task } from './delayed.js';

/** What largeArguments finds in most tasks, made once. */
const NOTHING_LARGE: ReadonlySet<object> = new Set();
const NO_BINARIES: (ArrayBufferView | ArrayBuffer)[] = [];

/** How many objects and array elements smallBinariesIn reads before it leaves the graph to a full walk. */
const SMALL_GRAPH = 256;
let budget = 0;
let smallFound: (ArrayBufferView | ArrayBuffer)[] = NO_BINARIES;

/**
 * The binary values in `root` when its graph is small (SMALL_GRAPH objects and elements at most),
 * else undefined: a recursion with no set of visited objects and nothing cached, a few times
 * cheaper than the full walk for a record of a few fields, the argument of most tasks. A cycle
 * uses the budget up, and the full walk takes it.
 */
function smallBinariesIn(root: object): (ArrayBufferView | ArrayBuffer)[] | undefined {
  budget = SMALL_GRAPH;
  smallFound = NO_BINARIES;
  return readSmall(root) ? smallFound : undefined;
}

function readSmall(value: object): boolean {
  if (--budget < 0) return false;
  if (isBinary(value)) {
    if (smallFound === NO_BINARIES) smallFound = [];
    smallFound.push(value);
    return true;
  }
  if (isLeafObject(value)) return true;
  if (Array.isArray(value)) {
    if ((budget -= value.length) < 0) return false;
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (typeof child === 'object' && child !== null && !readSmall(child)) return false;
    }
    return true;
  }
  // Maps, Sets and anything else unusual: the full walk.
  if (value instanceof Map || value instanceof Set) return false;
  for (const key of Object.keys(value)) {
    const child: unknown = (value as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null && !readSmall(child)) return false;
  }
  return true;
}

/** No argument is an object: none can be large or hold a reference, and largeArguments has nothing to walk. */
function allPrimitive(args: readonly unknown[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if ((typeof arg === 'object' && arg !== null) || typeof arg === 'function') return false;
  }
  return true;
}

/** A typed array, DataView or ArrayBuffer (a view over shared memory is a reference of its own). */
function isBinary(value: object): value is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(value) ? !(value.buffer instanceof SharedArrayBuffer) : types.isArrayBuffer(value);
}

/**
 * The tasks of a batch being formed, as parallel arrays rather than one Prepared object a
 * task: a run of 100,000 tiny tasks made 100,000 of them, and the garbage collector took
 * about 40% of the main thread. The arrays go into the WireBatch as they are (indices, the
 * arguments), and a function and its defs are kept once while every task shares them (two
 * arrays a task fewer to grow, and to promote while the batch is in flight). Grown by push,
 * not made at the batch's size: an array made by `new Array(n)` stays holey, which structured
 * clone writes key by key, twice the bytes and the time. Kept after sending: a refused or
 * crashed batch is sent again from it.
 */
export class Formed {
  indices: number[] = [];
  /** The function (and defs) of every task while they are all the same; per-task lists once one differs. */
  private fn: string | undefined;
  private fnList: string[] | undefined;
  private sharedDefs: WireDef[] | undefined;
  private defsList: WireDef[][] | undefined;
  /** Each task's refKey, once a task has one (undefined while none has). */
  refKeys: (string | undefined)[] | undefined;
  /** Every task so far has one argument and no refKey: `values` holds the arguments themselves. */
  unary = true;
  /** Each task's argument (unary), else each task's argument array. */
  values: unknown[] = [];

  get length(): number {
    return this.indices.length;
  }

  /** The function of every task (one id when they share it), as a batch names them. */
  get fns(): string | string[] {
    return this.fnList ?? this.fn!;
  }

  /** The defs of each distinct function's tasks, each array once. */
  *defsUsed(): Iterable<WireDef[]> {
    if (!this.defsList) {
      if (this.sharedDefs) yield this.sharedDefs;
      return;
    }
    let last: WireDef[] | undefined;
    for (const used of this.defsList) if (used !== last) yield (last = used);
  }

  add(index: number, fn: string, refKey: string | undefined, defs: WireDef[], args: readonly unknown[]): void {
    if (this.unary && (args.length !== 1 || refKey !== undefined)) {
      this.values = this.values.map((value) => [value]);
      this.unary = false;
    }
    if (refKey !== undefined && !this.refKeys) this.refKeys = this.indices.map(() => undefined);
    this.put(index, fn, defs, this.unary ? args[0] : args);
    this.refKeys?.push(refKey);
  }

  /** A task of one argument and no refKey, with no argument array made for it (map over an Array). */
  addSole(index: number, fn: string, defs: WireDef[], value: unknown): void {
    if (!this.unary) return this.add(index, fn, undefined, defs, [value]);
    this.put(index, fn, defs, value);
    this.refKeys?.push(undefined);
  }

  /** Tasks `first + from`, `first + from + 1`... of one argument each (`values` from `from` on, which the batch may keep as its own) and no refKey. */
  addRange(first: number, from: number, fn: string, defs: WireDef[], values: unknown[]): void {
    if (from || !this.unary || this.indices.length) {
      for (let k = from; k < values.length; k++) this.addSole(first + k, fn, defs, values[k]);
      return;
    }
    this.values = values;
    // Made at its size (a third of the bytes of one grown by push): holey, which only costs
    // where a batch is not in the short wire form, whose consecutive indices do not travel.
    const indices = new Array<number>(values.length);
    for (let k = 0; k < values.length; k++) indices[k] = first + k;
    this.indices = indices;
    this.fn = fn;
    this.sharedDefs = defs;
  }

  /** Each task's argument array (made for a unary batch: only when it is serialized). */
  argLists(): (readonly unknown[])[] {
    return this.unary ? this.values.map((value) => [value]) : (this.values as (readonly unknown[])[]);
  }

  /** The task at `k` alone, as a batch of its own. */
  one(k: number): Formed {
    const alone = new Formed();
    const fn = this.fnList ? this.fnList[k]! : this.fn!;
    const defs = this.defsList ? this.defsList[k]! : this.sharedDefs!;
    alone.add(this.indices[k]!, fn, this.refKeys?.[k], defs, this.unary ? [this.values[k]] : (this.values[k] as unknown[]));
    return alone;
  }

  private put(index: number, fn: string, defs: WireDef[], value: unknown): void {
    const k = this.indices.length;
    this.indices.push(index);
    this.values.push(value);
    if (k === 0) {
      this.fn = fn;
      this.sharedDefs = defs;
      return;
    }
    if (!this.fnList && fn !== this.fn) this.fnList = repeated(this.fn!, k);
    this.fnList?.push(fn);
    if (!this.defsList && defs !== this.sharedDefs) this.defsList = repeated(this.sharedDefs!, k);
    this.defsList?.push(defs);
  }
}

/** `value` `k` times, in a packed array (one made by `new Array(k)` stays holey: see Formed). */
function repeated<T>(value: T, k: number): T[] {
  const list: T[] = [];
  for (let i = 0; i < k; i++) list.push(value);
  return list;
}

// A closure like a task's: its encoding loads and warms what the first task function's needs.
const warmUpSample = ((step: number) => (x: number) => x + step)(1);
let warmedUp = false;

/**
 * Load and index, ahead of a run, what encoding its first task function needs with a serializer
 * that carries closures: the closure codec and its parser, the inspector session, the paths of
 * the built-ins (which touch Node's lazy globals). 116 ms of the first run of a fresh process
 * went there. Once per process; a failure here is left for the run to meet, with its path.
 */
export function warmUpEncoding(serializer: Serializer): void {
  if (warmedUp || !serializer.capabilities.closures) return;
  warmedUp = true;
  try {
    serializeIn(getSerializer('closure'), warmUpSample, new EncodeSession());
    intrinsicPath(warmUpSample);
  } catch {
    // Met again, and reported, by the first run that needs it.
  }
}

export interface SharingPlan {
  /** The backend's workers see this thread's SharedArrayBuffers. */
  sharedMemory: boolean;
  /** Arguments estimated larger than this many bytes are shared for the run; null: never. */
  maxNbytes: number | null;
  /** Tasks run in this very thread (inline): a persisted handle gives them the value itself. */
  sameThread?: boolean;
  /** The workers may be on another machine (SendContext.remote). */
  remote?: boolean;
  /** The Parallel's copies of large binary arguments, kept across its runs (absent inline). */
  copies?: SharedCopies | undefined;
}

/**
 * Turns tasks into wire tasks for one run: functions become defs (source,
 * hashed, sent to each worker once), arguments become bytes, and each
 * wrapped value is encoded once per run by the fallback serializer.
 * Everything that cannot travel is refused here, before a worker sees it.
 */
let nextRunId = 0;

export class TaskEncoder {
  /**
   * This run's number, set on its batches once a task uses a closure snapshot: a worker
   * rebuilds each snapshot once per run, from the bytes it keeps (see TaskRunner.build).
   */
  readonly runId = nextRunId++;
  /** A task of this run uses a closure snapshot. */
  usesSnapshots = false;
  /** A task of this run uses a copy kept across runs: a worker rebuilds its value for each run. */
  usesKeptCopies = false;
  /** Every encoding of this run: a closure submitted with 10,000 tasks is captured once. */
  private readonly session = new EncodeSession();
  private readonly snapshots = new RunSnapshots();
  private readonly closureDefs = new Map<Function, WireDef>();
  /** Defs of by-reference values, by the value (the same object in N tasks is sent once per run). */
  private readonly referenceDefs = new Map<object, WireDef>();
  private readonly defsById = new Map<string, WireDef>();
  /** Ids the workers may drop when the run ends (wrapped values, values shared for the run). */
  private readonly runScoped: string[] = [];
  private readonly shareable = new Map<object, boolean>();
  /** The binary values inside each argument object met this run (binariesIn). */
  private readonly nestedBinaries = new Map<object, (ArrayBufferView | ArrayBuffer)[]>();
  /** Defs a closure def needs delivered before it (the counters it captured), by the closure def's id. */
  private readonly companions = new Map<string, WireDef[]>();
  private readonly soleDefs = new Map<WireDef, WireDef[]>();
  /** The initializer's defs (what it captured by reference first, itself last), made once per run. */
  private initDefs: WireDef[] | undefined;

  /** A large binary argument as a def kept across runs (SendContext.keep), when the Parallel keeps copies. */
  private readonly keep: SendContext['keep'];

  constructor(
    private readonly serializer: Serializer,
    private readonly sharing: SharingPlan = { sharedMemory: true, maxNbytes: null },
  ) {
    const copies = sharing.copies;
    this.keep = copies && ((value) => ((this.usesKeptCopies = true), copies.share(value, this.runId)));
    const { maxNbytes } = sharing;
    if (copies && maxNbytes !== null) {
      this.keepCaptured = {
        accepts: (value) => isBinary(value) && value.byteLength > maxNbytes && isCopyable(value),
        keep: (value, path) => {
          // The def is made now (its id goes into the function's bytes) and delivered before the function, as a companion.
          const def = this.referenceDef(value, largeValueKind()!, joinPath('fn', path), this.encodingTask);
          this.session.companions.add(value);
          return { kind: largeValueKind()!.name, state: { id: def.id } };
        },
      };
    }
  }

  /**
   * A large binary value a task function captured, as the Parallel's kept copy of it (the same as
   * an argument's): the function's bytes name the copy, so they stay small, and their hash (the
   * snapshot's id) stays the same while the value is unchanged. Without it every run serialized
   * and hashed the whole value again, and each worker deserialized it again.
   */
  private readonly keepCaptured: EncodeSession['keepLarge'];
  /** The function of the last task prepared, and its def. */
  private lastFn: Function | undefined;
  private lastDef: WireDef | undefined;
  /** `[lastDef]` when that def has no companions (the common case), else undefined: no map lookups per task. */
  private lastSole: WireDef[] | undefined;
  /** The task whose function is being encoded, for errors. */
  private encodingTask: number | undefined;

  /**
   * Check a task and prepare it for its batch, refusing here, before any worker, what cannot
   * travel: its function becomes a def, its special arguments references. The arguments
   * themselves are serialized with the rest of the batch by `pack`.
   */
  prepare(task: Task, index: number, into: Formed): void {
    if (hasSoleArgument(task)) return this.prepareItem(task.fn, task.only, index, into);
    try {
      this.encodeUnchecked(task, index, into);
    } catch (error) {
      if (error instanceof SerializationError) throw error;
      // Anything else (a getter that throws, a list nested deeper than the stack) still names the task and the phase.
      throw new SerializationError({
        phase: 'serialize-task',
        path: 'args',
        serializer: this.serializer.name,
        problem: `Cannot serialize: ${error instanceof Error ? error.message : String(error)}`,
        remedy: 'Send plain data: no getters that throw, no structures nested thousands of levels deep.',
        taskIndex: index,
        cause: error,
      });
    }
  }

  /**
   * The argument arrays of a batch, serialized in one call: one serializer set-up and one
   * buffer for the whole batch. If the call fails, each task is encoded alone to find the
   * one that cannot travel, so the error names its index and the path inside it.
   */
  pack(batch: Formed): Uint8Array | string {
    return this.serializeBatch(batch.argLists(), batch);
  }

  /**
   * The argument arrays as they are, when the backend's transport clones them exactly as the
   * serializer would (plain data under 'auto' or 'structured'): one clone instead of an encode,
   * a copy of the bytes and a decode. Otherwise packed as by `pack`. When every task has one
   * argument and no references, the arguments themselves (`unary`): a clone of one array of
   * 1,000 numbers costs 10 µs to write and 14-21 µs to read, of 1,000 one-element arrays 73-150
   * and 113-170 µs.
   */
  packForTransport(batch: Formed, transportClones: boolean): { args: unknown[]; unary?: true } | { packed: Uint8Array | string } {
    if (!transportClones) return { packed: this.serializeBatch(batch.argLists(), batch) };
    // The check walks the flat list when there is one (unary): no argument array to visit per task.
    const { values, unary } = batch;
    // A key of a weak collection the run sent must take the serializer, whose graph joins it to that collection.
    if (!clonesAsIs(this.serializer, values) || holdsWeakKeys(this.session, values)) return { packed: this.serializeBatch(batch.argLists(), batch) };
    return unary ? { args: values, unary } : { args: values };
  }

  private serializeBatch(args: readonly (readonly unknown[])[], batch: Formed): Uint8Array | string {
    try {
      return serializeIn(this.serializer, args, this.session);
    } catch (error) {
      const { indices } = batch;
      for (let k = 0; k < indices.length; k++) encodeValue(args[k], { serializer: this.serializer, root: 'args', phase: 'serialize-task', taskIndex: indices[k], session: this.session });
      throw new SerializationError({
        phase: 'serialize-task',
        path: 'args',
        serializer: this.serializer.name,
        problem: `Cannot serialize the batch of tasks ${indices[0]} to ${indices[indices.length - 1]}: ${error instanceof Error ? error.message : String(error)}`,
        remedy: 'Each task encodes alone; together they do not (shared objects across tasks?). Try batchSize: 1.',
        taskIndex: indices[0],
        cause: error,
      });
    }
  }

  /**
   * map(fn, array)'s item as the task `delayed(fn)(item)`: a primitive item of the last function,
   * when nothing could need a reference, goes into the batch with no task and no argument array
   * made for it (what the fast path of encodeUnchecked checks, for one primitive argument).
   */
  prepareItem(fn: Function, item: unknown, index: number, into: Formed): void {
    const sole = fn === this.lastFn ? this.lastSole : undefined;
    if (sole && !anyReferenceInUse() && ((typeof item !== 'object' && typeof item !== 'function') || item === null)) return into.addSole(index, this.lastDef!.id, sole, item);
    this.prepare({ fn, args: [item] }, index, into);
  }

  /**
   * Whether tasks of `fn` whose arguments are primitives may be added a range at a time (addRange,
   * prepareRange): a task of it has made its def, and nothing in this process could need a reference.
   */
  takesRange(fn: Function): boolean {
    return fn === this.lastFn && this.lastSole !== undefined && !anyReferenceInUse();
  }

  /**
   * Map's items `values` from `from` on (a copy of its Array's items from task `first` on) as tasks
   * of `fn`, in one step, when each would take prepareItem's fast path (no task, no argument
   * array, no push per item); false, and nothing added, otherwise.
   */
  prepareRange(fn: Function, values: unknown[], from: number, first: number, into: Formed): boolean {
    if (!this.takesRange(fn)) return false;
    for (let k = from; k < values.length; k++) {
      const value = values[k];
      if ((typeof value === 'object' && value !== null) || typeof value === 'function') return false;
      // A hole of the caller's sparse Array (kept by slice()) is the undefined the iterator reads:
      // left a hole, argLists() (Array#map) skips it and a serialized batch sends no arguments.
      if (value === undefined && !(k in values)) values[k] = undefined;
    }
    this.addRange(values, from, first, into);
    return true;
  }

  /** Primitive arguments `values` from `from` on, of tasks `first + from`... of the function takesRange said yes to. */
  addRange(values: unknown[], from: number, first: number, into: Formed): void {
    into.addRange(first, from, this.lastDef!.id, this.lastSole!, values);
  }

  private encodeUnchecked(task: Task, index: number, into: Formed): void {
    // The tasks of a run mostly share one function: its def, made once per run, is found without
    // asking every by-reference kind about the function again (four checks a task, slow while the
    // code is not yet optimized, in a process's first run).
    let fnDef = this.lastDef;
    if (task.fn !== this.lastFn || !fnDef) {
      fnDef = this.functionDef(task.fn, index);
      this.lastFn = task.fn;
      this.lastDef = fnDef;
      this.lastSole = this.companions.has(fnDef.id) ? undefined : this.soleDef(fnDef);
    }
    const { args } = task;
    const sole = this.lastSole;
    if (sole && !anyReferenceInUse() && (allPrimitive(args) || this.largeArguments(args).size === 0)) {
      // Nothing in this process could need a reference (the common case, thousands of tiny
      // tasks): the arguments go as they are, with the function's def alone (one array per def).
      into.add(index, fnDef.id, undefined, sole, args);
      return;
    }
    const large = this.largeArguments(args);
    const prepared = prepareValue(task.args, {
      serializer: this.serializer,
      root: 'args',
      phase: 'serialize-task',
      taskIndex: index,
      refer: (value, path) => this.referenceDef(value as object, large.has(value as object) ? largeValueKind()! : referenceKindOf(value)!, path, index).id,
      isSpecial: (v) => large.has(v) || referenceKindOf(v) !== undefined,
      scanFirst: true,
    });
    const defs = [...(this.companions.get(fnDef.id) ?? []), fnDef, ...prepared.refs.map((id) => this.defsById.get(id)!)];
    into.add(index, fnDef.id, prepared.refs.length > 0 ? REF_KEY : undefined, defs, prepared.value as unknown[]);
  }

  /**
   * The run's initializer as defs, made once per run the way a task function is (source, or a
   * closure snapshot addressed by the hash of its bytes, so a worker that ran the same one keeps its
   * state). What cannot travel is refused here, naming the path `initializer`.
   */
  initializerDefs(initializer: Function): WireDef[] {
    if (this.initDefs) return this.initDefs;
    let def: WireDef;
    try {
      def = encodingInitializer(this.session, () => this.functionDef(initializer, undefined));
    } catch (error) {
      if (!(error instanceof SerializationError)) throw error;
      const details = error.toDetails();
      throw new SerializationError({ ...details, path: details.path.replace(/^fn/, 'initializer'), taskIndex: undefined, cause: details.cause ?? error });
    }
    // Its encoding may have given a task function's def companions (the same bytes): find them again.
    this.lastFn = undefined;
    return (this.initDefs = [...(this.companions.get(def.id) ?? []), def]);
  }

  /** `[def]`, made once per def: batches only read a task's defs. */
  private soleDef(def: WireDef): WireDef[] {
    let defs = this.soleDefs.get(def);
    if (!defs) this.soleDefs.set(def, (defs = [def]));
    return defs;
  }

  /**
   * Ids the workers may forget when this run ends: values wrapped or shared for this run only,
   * and earlier snapshots of task functions whose captured values changed. Persisted values
   * stay until close().
   */
  runScopedIds(): string[] {
    const released = this.snapshots.end();
    const copies = this.sharing.copies?.endRun(this.runId) ?? [];
    return this.runScoped.length || copies.length ? [...this.runScoped, ...copies, ...released] : released;
  }

  /**
   * The arguments large enough to share for the run: top-level values by their estimate (not
   * walked), and, when the Parallel keeps copies, large typed arrays, DataViews and ArrayBuffers
   * nested in the arguments' objects and arrays (`{ weights: Float64Array }`), found by a walk
   * made once per argument object and run.
   */
  private largeArguments(args: readonly unknown[]): ReadonlySet<object> {
    let large: Set<object> | undefined;
    const { maxNbytes, copies } = this.sharing;
    if (maxNbytes === null) return NOTHING_LARGE;
    // Every binary value the task holds, when one of them is to be copied: two over one buffer must stay one buffer.
    let binaries: object[] | undefined;
    for (const arg of args) {
      if (typeof arg !== 'object' || arg === null) continue;
      if (isBinary(arg)) {
        (binaries ??= []).push(arg);
        if (estimateBytes(arg) > maxNbytes && !referenceKindOf(arg)) (large ??= new Set()).add(arg);
        continue;
      }
      if (referenceKindOf(arg)) continue;
      if (estimateBytes(arg) > maxNbytes) {
        // Shared values travel by structured clone: functions, symbols, proxies, class instances, null-prototype
        // objects, references and values nested deeper than a clone can recurse keep to the serializer, which
        // carries them or refuses them at their path (a clone fails with neither, raw, in the transport: a
        // stack overflow for the deep ones; or gives a null-prototype object Object's).
        let ok = this.shareable.get(arg);
        if (ok === undefined) {
          ok = !someInGraphOrDeeper(arg, NESTING_LIMIT, (v) => typeof v === 'function' || clonesAmiss(v) || referenceKindOf(v) !== undefined, () => true);
          this.shareable.set(arg, ok);
        }
        if (ok) (large ??= new Set()).add(arg);
        continue;
      }
      if (!copies) continue;
      const nested = this.binariesIn(arg);
      if (!nested.length) continue;
      (binaries ??= []).push(...nested);
      for (const value of nested) if (value.byteLength > maxNbytes && isCopyable(value)) (large ??= new Set()).add(value);
    }
    if (large && binaries && binaries.length > 1) this.keepAliases(binaries, large);
    return large ?? NOTHING_LARGE;
  }

  /** The typed arrays, DataViews and ArrayBuffers inside `arg` (not over shared memory), walked once per run. */
  private binariesIn(arg: object): (ArrayBufferView | ArrayBuffer)[] {
    let found = this.nestedBinaries.get(arg);
    if (found) return found;
    // The common argument object (a record of a few fields) is read at once, with no set and no cache entry.
    found = smallBinariesIn(arg);
    if (found) return found;
    const met: (ArrayBufferView | ArrayBuffer)[] = [];
    someInGraph(arg, (v) => {
      if (isBinary(v)) met.push(v);
      return false;
    });
    this.nestedBinaries.set(arg, (found = met.length ? met : NO_BINARIES));
    return found;
  }

  /**
   * Values over one ArrayBuffer must arrive over one buffer (a write through one is read
   * through the other). Copies are per buffer, so views of it share one copy, and on shared
   * memory (threads) they alias as in the main thread. Where they would not, the group keeps
   * to the payload's structured clone, which carries one buffer for them all: the buffer itself
   * beside a view of it (a task gets an ArrayBuffer as memory of its own), a view the copy cannot
   * carry (a Buffer), or two values at all when the workers get memory of their own (processes).
   */
  private keepAliases(binaries: object[], large: Set<object>): void {
    const groups = new Map<ArrayBufferLike, Set<object>>();
    for (const value of binaries) {
      const buffer = ArrayBuffer.isView(value) ? value.buffer : (value as ArrayBuffer);
      let group = groups.get(buffer);
      if (!group) groups.set(buffer, (group = new Set()));
      group.add(value);
    }
    for (const [buffer, group] of groups) {
      if (group.size < 2 || ![...group].some((value) => large.has(value))) continue;
      const aliasing = this.sharing.sharedMemory && !group.has(buffer) && [...group].every((value) => isCopyable(value));
      if (!aliasing) for (const value of group) large.delete(value);
    }
  }

  /** A by-reference value as a def, made once per run; its kind says what travels. */
  private referenceDef(value: object, kind: ReferenceKind, path: string, index: number | undefined): WireDef {
    const hit = this.referenceDefs.get(value);
    if (hit) return hit;
    let sent;
    try {
      sent = kind.send(value, { sharedMemory: this.sharing.sharedMemory, sameThread: this.sharing.sameThread === true, remote: this.sharing.remote === true, path, taskIndex: index, serializer: this.serializer.name, session: this.session, keep: this.keep });
    } catch (error) {
      if (!(error instanceof ReferenceRefusal)) throw error;
      throw new SerializationError({ phase: 'serialize-task', path, serializer: this.serializer.name, problem: error.problem, remedy: error.remedy, taskIndex: index });
    }
    // A value seen before under another identity (a Counter met in a closure and in the arguments) is one def.
    const def = this.defsById.get(sent.id) ?? { kind: 'ref' as const, id: sent.id, ref: kind.name, state: sent.state };
    this.referenceDefs.set(value, def);
    if (!this.defsById.has(def.id)) {
      this.defsById.set(def.id, def);
      if (sent.runScoped) this.runScoped.push(def.id);
    }
    return def;
  }

  private functionDef(fn: Function, index: number | undefined): WireDef {
    const kind = referenceKindOf(fn);
    if (kind) return this.referenceDef(fn, kind, 'fn', index);
    if (this.serializer.capabilities.closures) return this.closureDef(fn, index);
    const description = describeFunction(fn);
    const refuse = (problem: string, remedy: string) =>
      new SerializationError({ phase: 'serialize-task', path: 'fn', serializer: this.serializer.name, problem, remedy, taskIndex: index });
    if (description.kind === 'unsupported') {
      throw refuse(
        `Cannot send function \`${description.name}\`: ${description.reason}`,
        'Pass a plain function (declaration, expression or arrow) that calls it, with the values it needs as arguments.',
      );
    }
    if (description.kind === 'global') return { kind: 'global', id: description.id, name: description.name, path: description.path };
    if (description.freeVariables.length && !this.serializer.capabilities.closures) {
      const names = description.freeVariables.map((n) => `\`${n}\``).join(', ');
      throw refuse(
        `Cannot send function \`${description.name}\`: it uses ${names} from its enclosing scope, and a function travels as its source only`,
        capturedVariablesRemedy(description.name, description.freeVariables, true),
      );
    }
    return { kind: 'function', id: description.id, name: description.name, source: description.source, form: description.form };
  }

  /**
   * The task function with what it captures, through the closure codec, once per run.
   * Its id is a hash of the bytes: a worker that already holds the same function with
   * the same captured values (an earlier run) is not sent them again.
   */
  private closureDef(fn: Function, index: number | undefined): WireDef {
    this.usesSnapshots = true;
    const hit = this.closureDefs.get(fn) ?? pureSnapshot(fn);
    if (hit) return hit;
    this.encodingTask = index;
    const codec = getSerializer('closure');
    this.session.companions.clear();
    let data: Uint8Array | string;
    this.session.keepLarge = this.keepCaptured;
    try {
      data = serializeIn(codec, fn, this.session);
    } catch (error) {
      const failure = locateFailure(error, fn, { serializer: codec, root: 'fn', phase: 'serialize-task', taskIndex: index });
      // The user chose the run's serializer ('auto'): the error names it, not the codec it hands functions to.
      throw this.serializer.name === codec.name ? failure : new SerializationError({ ...failure.toDetails(), serializer: this.serializer.name, cause: error });
    } finally {
      this.session.keepLarge = undefined;
    }
    const def: WireDef = { kind: 'value', id: `c:${createHash('sha1').update(data).digest('base64url')}`, serializer: codec.name, data };
    // ES modules it refers to: the worker imports them first (require() cannot load one with top-level await).
    const imports = sessionEsModules(this.session);
    if (imports.length) def.imports = [...imports];
    // What it captured by reference (a Counter) goes first, so the worker holds it when it rebuilds the function.
    const met = [...this.session.companions];
    if (met.length) this.companions.set(def.id, met.map((value) => this.referenceDef(value, (referenceKindOf(value) ?? largeValueKind())!, 'fn', index)));
    this.closureDefs.set(fn, def);
    const capture = sessionCapture(this.session, fn);
    if (capture?.kind === 'source' && !capture.values.size && !capture.modules.size && !capture.lexicalThis && !capture.superClass && !capture.isClass) {
      // An arrow's body cannot reach the arrow (a function expression's own name, or `this`, could),
      // so no task can write into what its snapshot rebuilds: a rebuild per run and worker cost a
      // single-task run about a fifth of its round trip. Strict code only: sloppy code reaches a
      // sloppy arrow through a nested function's `caller` or a CallSite's getFunction().
      if (capture.isArrow && capture.strict && !met.length) def.acrossRuns = true;
      keepPureSnapshot(fn, def, capture.absentGlobals);
    }
    this.snapshots.use(fn, def.id);
    return def;
  }
}
