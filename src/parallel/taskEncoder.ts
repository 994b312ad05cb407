import { createHash } from 'node:crypto';
import { SerializationError } from '../errors.js';
import type { Capture } from '../closure/capture.js';
import { enterCaptureCache, leaveCaptureCache, withCaptureCache } from '../closure/codec.js';
import { describeFunction } from '../closure/functionSource.js';
import { REF_KEY, encodeValue, locateFailure, prepareValue } from '../serialize/payload.js';
import { getSerializer } from '../serialize/registry.js';
import { capturedVariablesRemedy } from '../serialize/remedies.js';
import { FALLBACK_SERIALIZER, anyWrapped, isWrapped, unwrap } from '../serialize/wrap.js';
import type { Serializer } from '../serialize/types.js';
import type { WireDef, WireTask } from '../runtime/protocol.js';
import { isClassInstance } from '../closure/codec.js';
import { someInGraph } from '../serialize/walk.js';
import { estimateBytes } from '../sharing/bytes.js';
import { anyPersisted, isPersisted, type PersistedModel } from '../sharing/persisted.js';
import { anySharedArrays, isSharedView } from '../sharing/sharedArray.js';
import { anyCounters, collectCounters, isCounter, type Counter } from '../sharing/counter.js';
import type { Task } from './delayed.js';
import { clonesAsIs } from '../serialize/scan.js';

let nextValueId = 0;

/** A task checked and ready for its batch; its arguments are serialized with the batch's. */
/** What largeArguments finds in most tasks, made once. */
const NOTHING_LARGE: ReadonlySet<object> = new Set();

export interface Prepared {
  task: WireTask;
  defs: WireDef[];
  args: unknown;
}

export interface SharingPlan {
  /** The backend's workers see this thread's SharedArrayBuffers. */
  sharedMemory: boolean;
  /** Arguments estimated larger than this many bytes are shared for the run; null: never. */
  maxNbytes: number | null;
  /** Tasks run in this very thread (inline): a persisted handle gives them the value itself. */
  sameThread?: boolean;
}

// The last snapshot sent of each task function: when a run sends a new one, workers may drop the old,
// but only once no run still in progress uses it (runs of one Parallel may overlap).
const lastClosureDef = new WeakMap<Function, string>();
const liveUses = new Map<string, number>();
const superseded = new Set<string>();

/**
 * Task functions whose capture turned out empty (they use arguments and globals only): there
 * is no snapshot to take again, so their def is kept for good and later runs skip the
 * inspector, about half a millisecond per run. A function that captures anything is
 * captured again at every run, so each run sees the values of that moment.
 */
const pureClosureDefs = new WeakMap<Function, WireDef>();

/**
 * Turns tasks into wire tasks for one run: functions become defs (source,
 * hashed, sent to each worker once), arguments become bytes, and each
 * wrapped value is encoded once per run by the fallback serializer.
 * Everything that cannot travel is refused here, before a worker sees it.
 */
export class TaskEncoder {
  private readonly wrapped = new Map<unknown, WireDef>();
  private readonly defsById = new Map<string, WireDef>();
  private readonly fallback: Serializer = getSerializer(FALLBACK_SERIALIZER);
  /** Functions captured in this run: a closure submitted with 10,000 tasks is captured once. */
  private readonly captures = new Map<Function, Capture>();
  private readonly closureDefs = new Map<Function, WireDef>();
  /** Closure snapshot ids this run uses (counted in liveUses until the run ends). */
  private readonly usedSnapshots = new Set<string>();
  /** Values shared for this run: large arguments and shared arrays, by identity (the same object for N tasks is sent once). */
  private readonly sharedForRun = new Map<object, WireDef>();
  private readonly persistedDefs = new Map<PersistedModel, WireDef>();
  private readonly shareable = new Map<object, boolean>();
  /** Defs a closure def needs delivered before it (the counters it captured), by the closure def's id. */
  private readonly companions = new Map<string, WireDef[]>();
  private readonly soleDefs = new Map<WireDef, WireDef[]>();

  constructor(
    private readonly serializer: Serializer,
    private readonly sharing: SharingPlan = { sharedMemory: true, maxNbytes: null },
  ) {}

  /**
   * Check a task and prepare it for its batch, refusing here, before any worker, what cannot
   * travel: its function becomes a def, its special arguments references. The arguments
   * themselves are serialized with the rest of the batch by `pack`.
   */
  prepare(task: Task, index: number): Prepared {
    const previous = enterCaptureCache(this.captures);
    try {
      return this.encodeUnchecked(task, index);
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
    } finally {
      leaveCaptureCache(previous);
    }
  }

  /**
   * The argument arrays of a batch, serialized in one call: one serializer set-up and one
   * buffer for the whole batch. If the call fails, each task is encoded alone to find the
   * one that cannot travel, so the error names its index and the path inside it.
   */
  pack(batch: readonly Prepared[]): Uint8Array | string {
    return this.serializeBatch(batch.map((p) => p.args), batch);
  }

  /**
   * The argument arrays as they are, when the backend's transport clones them exactly as the
   * serializer would (plain data under 'auto' or 'structured'): one clone instead of an encode,
   * a copy of the bytes and a decode. Otherwise packed as by `pack`. When every task has one
   * argument and no references, the arguments themselves (`unary`): a clone of one array of
   * 1,000 numbers costs 10 µs to write and 14-21 µs to read, of 1,000 one-element arrays 73-150
   * and 113-170 µs.
   */
  packForTransport(batch: readonly Prepared[], transportClones: boolean): { args: unknown[]; unary?: true } | { packed: Uint8Array | string } {
    const args = batch.map((p) => p.args);
    if (!transportClones) return { packed: this.serializeBatch(args, batch) };
    // The check walks the flat list when there is one: no argument array to visit per task.
    const unary = batch.every((p) => (p.args as unknown[]).length === 1 && !p.task.refKey);
    const values = unary ? batch.map((p) => (p.args as unknown[])[0]) : args;
    if (!clonesAsIs(this.serializer, values)) return { packed: this.serializeBatch(args, batch) };
    return unary ? { args: values, unary } : { args };
  }

  private serializeBatch(args: unknown[], batch: readonly Prepared[]): Uint8Array | string {
    try {
      return withCaptureCache(this.captures, () => this.serializer.serialize(args));
    } catch (error) {
      withCaptureCache(this.captures, () => {
        for (const p of batch) encodeValue(p.args, { serializer: this.serializer, root: 'args', phase: 'serialize-task', taskIndex: p.task.index });
      });
      throw new SerializationError({
        phase: 'serialize-task',
        path: 'args',
        serializer: this.serializer.name,
        problem: `Cannot serialize the batch of tasks ${batch[0]!.task.index} to ${batch[batch.length - 1]!.task.index}: ${error instanceof Error ? error.message : String(error)}`,
        remedy: 'Each task encodes alone; together they do not (shared objects across tasks?). Try batchSize: 1.',
        taskIndex: batch[0]!.task.index,
        cause: error,
      });
    }
  }

  private encodeUnchecked(task: Task, index: number): Prepared {
    const fnDef = this.functionDef(task.fn, index);
    const large = this.largeArguments(task.args);
    const scanFirst = large.size > 0 || anyPersisted() || anySharedArrays() || anyCounters();
    if (!scanFirst && !anyWrapped() && !this.companions.has(fnDef.id)) {
      // Nothing in this process could need a reference (the common case, thousands of tiny
      // tasks): the arguments go as they are, with the function's def alone (one array per def).
      return { task: { index, fn: fnDef.id, refKey: undefined }, defs: this.soleDef(fnDef), args: task.args };
    }
    const prepared = prepareValue(task.args, {
      serializer: this.serializer,
      root: 'args',
      phase: 'serialize-task',
      taskIndex: index,
      refer: (value, path) => this.specialDef(value, path, index).id,
      isSpecial: (v) => isWrapped(v) || isPersisted(v) || isSharedView(v) || isCounter(v) || large.has(v),
      scanFirst,
    });
    const defs = [...(this.companions.get(fnDef.id) ?? []), fnDef, ...prepared.refs.map((id) => this.defsById.get(id)!)];
    return { task: { index, fn: fnDef.id, refKey: prepared.refs.length > 0 ? REF_KEY : undefined }, defs, args: prepared.value };
  }

  /** `[def]`, made once per def: batches only read a task's defs. */
  private soleDef(def: WireDef): WireDef[] {
    let defs = this.soleDefs.get(def);
    if (!defs) this.soleDefs.set(def, (defs = [def]));
    return defs;
  }

  /**
   * Ids the workers may forget when this run ends: values wrapped or shared for this run only,
   * and earlier snapshots of task functions whose captured values changed (so a long-lived pool
   * holds one snapshot per function, not one per run). Persisted values stay until close().
   */
  runScopedIds(): string[] {
    if (!this.usedSnapshots.size && !superseded.size && !this.wrapped.size && !this.sharedForRun.size) return [];
    const released: string[] = [];
    for (const id of this.usedSnapshots) {
      const uses = (liveUses.get(id) ?? 1) - 1;
      if (uses > 0) liveUses.set(id, uses);
      else liveUses.delete(id);
    }
    // A superseded snapshot goes once no run in progress uses it.
    for (const id of superseded) {
      if (!liveUses.has(id)) {
        superseded.delete(id);
        released.push(id);
      }
    }
    return [...[...this.wrapped.values(), ...this.sharedForRun.values()].map((def) => def.id), ...released];
  }

  /** The top-level arguments large enough to share for the run (estimated, not walked). */
  private largeArguments(args: readonly unknown[]): ReadonlySet<object> {
    let large: Set<object> | undefined;
    const { maxNbytes } = this.sharing;
    if (maxNbytes === null) return NOTHING_LARGE;
    for (const arg of args) {
      if (typeof arg !== 'object' || arg === null || estimateBytes(arg) <= maxNbytes) continue;
      if (isSharedView(arg) || isPersisted(arg) || isWrapped(arg)) continue;
      // Shared values travel by structured clone: functions and class instances keep to the serializer.
      let ok = this.shareable.get(arg);
      if (ok === undefined) {
        ok = !someInGraph(arg, (v) => typeof v === 'function' || isClassInstance(v) || isWrapped(v) || isPersisted(v));
        this.shareable.set(arg, ok);
      }
      if (ok) (large ??= new Set()).add(arg);
    }
    return large ?? NOTHING_LARGE;
  }

  private specialDef(value: unknown, path: string, index: number): WireDef {
    if (isWrapped(value)) return this.wrappedDef(value, path, index);
    if (isPersisted(value)) return this.persistedDef(value, path, index);
    if (isCounter(value)) return this.counterDef(value);
    const hit = this.sharedForRun.get(value as object);
    if (hit) return hit;
    let shared = value;
    // A process cannot map this thread's memory: it gets a copy, and its writes stay with it.
    if (isSharedView(value) && !this.sharing.sharedMemory) {
      shared = new (value.constructor as new (source: ArrayBufferView) => ArrayBufferView)(value);
    }
    const def: WireDef = { kind: 'shared', id: `s${nextValueId++}`, value: shared, persisted: false };
    this.sharedForRun.set(value as object, def);
    this.defsById.set(def.id, def);
    return def;
  }

  private persistedDef(handle: PersistedModel, path: string, index: number): WireDef {
    const hit = this.persistedDefs.get(handle);
    if (hit) return hit;
    if (handle.closed) {
      throw new SerializationError({
        phase: 'serialize-task',
        path,
        serializer: this.serializer.name,
        problem: `PersistedModel ${handle.id} was closed before the task was submitted`,
        remedy: 'Close a persisted value after the runs that use it, or persist it again.',
        taskIndex: index,
      });
    }
    const payload = this.sharing.sameThread ? { kind: 'shared' as const, value: handle.get() } : handle.payload(this.sharing.sharedMemory);
    const def: WireDef =
      payload.kind === 'shared'
        ? { kind: 'shared', id: handle.id, value: payload.value, persisted: true }
        : { kind: 'file', id: handle.id, path: payload.path };
    this.persistedDefs.set(handle, def);
    this.defsById.set(def.id, def);
    return def;
  }

  private functionDef(fn: Function, index: number): WireDef {
    if (isWrapped(fn)) return this.wrappedDef(fn, 'fn', index);
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
  private closureDef(fn: Function, index: number): WireDef {
    const hit = this.closureDefs.get(fn) ?? pureClosureDefs.get(fn);
    if (hit) return hit;
    const codec = getSerializer('closure');
    let data: Uint8Array | string;
    let counters: Counter[];
    try {
      ({ result: data, counters } = collectCounters(() => codec.serialize(fn)));
    } catch (error) {
      throw locateFailure(error, fn, { serializer: codec, root: 'fn', phase: 'serialize-task', taskIndex: index });
    }
    const def: WireDef = { kind: 'value', id: `c:${createHash('sha1').update(data).digest('base64url')}`, serializer: codec.name, data };
    // Counters it captured go first, so the worker holds their memory when it rebuilds the function.
    if (counters.length) this.companions.set(def.id, counters.map((counter) => this.counterDef(counter)));
    this.closureDefs.set(fn, def);
    const capture = this.captures.get(fn);
    if (capture?.kind === 'source' && !capture.values.size && !capture.modules.size && !capture.lexicalThis && !capture.superClass && !capture.isClass) {
      pureClosureDefs.set(fn, def);
    }
    if (!this.usedSnapshots.has(def.id)) {
      this.usedSnapshots.add(def.id);
      liveUses.set(def.id, (liveUses.get(def.id) ?? 0) + 1);
    }
    const previous = lastClosureDef.get(fn);
    if (previous !== undefined && previous !== def.id) superseded.add(previous);
    superseded.delete(def.id);
    lastClosureDef.set(fn, def.id);
    return def;
  }

  /** A Counter: its shared memory (threads, inline) or its settings (processes), sent to each worker once. */
  private counterDef(counter: Counter): WireDef {
    let def = this.defsById.get(counter.id);
    if (!def) {
      def = { kind: 'counter', id: counter.id, state: counter.state(this.sharing.sharedMemory) };
      this.defsById.set(def.id, def);
    }
    return def;
  }

  /** Encode a wrapped value with the fallback serializer, once per run. */
  private wrappedDef(value: unknown, path: string, index: number): WireDef {
    const hit = this.wrapped.get(value);
    if (hit) return hit;
    const target = unwrap(value);
    let data: Uint8Array | string;
    try {
      data = this.fallback.serialize(target);
    } catch (error) {
      const failure = locateFailure(error, target, { serializer: this.fallback, root: path, phase: 'serialize-task', taskIndex: index, wrapped: true });
      throw new SerializationError({
        ...failure.toDetails(),
        problem: `${failure.problem} (a wrapNonSerializable value goes through the fallback serializer '${this.fallback.name}', whatever the run's serializer '${this.serializer.name}')`,
      });
    }
    const def: WireDef = { kind: 'value', id: `w${nextValueId++}`, serializer: this.fallback.name, data };
    this.wrapped.set(value, def);
    this.defsById.set(def.id, def);
    return def;
  }
}
