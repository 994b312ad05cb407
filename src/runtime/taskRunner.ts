import { SerializationError, type SerializationPhase } from '../errors.js';
import { compileFunction, resolveGlobalPath } from '../source/compile.js';
import { getSerializer, isSerializerLoaded, loadSerializer } from '../serialize/registry.js';
import { decodeValue, encodeValue, resolveReferences } from '../serialize/payload.js';
import type { Serializer } from '../serialize/types.js';
import { clonesAsIs } from '../serialize/scan.js';
import { importModules, modulesToImport } from '../closure/codec.js';
import type { WireBatch, WireDef, WireReply, WireResult, WireTask } from './protocol.js';
import '../sharing/kinds.js';
import { referenceKind } from '../values/byReference.js';
import { encodeThrown, recordThrown } from './thrown.js';

/** What running one task gave: its value, or a failure result. */
type Outcome = { ran: unknown } | WireResult;

/** `f(value)`, now or when the promise settles. */
function mapMaybe<T, U>(value: T | Promise<T>, f: (value: T) => U): U | Promise<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * Runs batches in one worker (or inline in the main thread): builds each
 * def once and caches it by id, decodes arguments, calls the function,
 * encodes the result. Every failure becomes a result, never an exception,
 * so one bad task cannot take its batch down.
 */
export class TaskRunner {
  private readonly defs = new Map<string, WireDef>();
  private readonly built = new Map<string, unknown>();
  /**
   * The run each closure snapshot was rebuilt for. A capture is a snapshot of the moment of
   * submission: a run's tasks share one rebuilt function (and what they write into its captured
   * objects), the next run rebuilds it from the bytes kept in `defs`, even when the bytes are the same.
   */
  private readonly builtFor = new Map<string, number>();

  /**
   * Run a batch. `clones`: the reply goes through a transport that structured-clones it, so plain
   * values may travel as they are (`values`); if the transport then refuses them, `repack` serializes.
   */
  async runBatch(batch: WireBatch, clones = false): Promise<WireReply> {
    return this.runBatchNow(batch, clones);
  }

  /**
   * The same, answered within this call when nothing has to be waited for: the serializer is
   * loaded and no task returns a promise. Otherwise the promise of the answer. A worker thread
   * posts a synchronous answer from its message handler: no microtask hops between the message
   * and the reply (the common case: a warm worker and a plain function).
   */
  runBatchNow(batch: WireBatch, clones = false): WireReply | Promise<WireReply> {
    const timing = batch.profile ? { decodeMs: 0, encodeMs: 0, taskMs: [] as number[] } : undefined;
    const withTiming = (reply: WireReply): WireReply => (timing ? { ...reply, timing } : reply);
    for (const def of batch.defs) {
      this.defs.set(def.id, def);
      // Built now when its kind says so: a closure that captured it finds it by id when it is rebuilt.
      if (def.kind === 'ref' && referenceKind(def.ref).rebuildOnArrival) this.build(def.id);
    }
    const loading = this.serializersToLoad(batch);
    if (!loading) return mapMaybe(this.runLoaded(batch, clones, getSerializer(batch.serializer), timing), withTiming);
    return loading.then(
      (serializer) => mapMaybe(this.runLoaded(batch, clones, serializer, timing), withTiming),
      (error: unknown): WireReply => {
        const failure = (index: number): WireResult => this.serializationFailure(index, 'deserialize-task', 'args', batch.serializer, error,
          `Register the serializer in the worker: registerSerializer(s, { module: import.meta.url }) in a module of its own.`);
        return { failures: batch.indices.map((index) => failure(index)) };
      },
    );
  }

  /** Load what the batch's serializers need in this realm; undefined when everything is loaded already. */
  private serializersToLoad(batch: WireBatch): Promise<Serializer> | undefined {
    const names = [batch.serializer];
    const imports: string[] = [];
    // Closure snapshots name their serializer; a by-reference kind says what it needs (a wrapped value its fallback serializer).
    for (const def of batch.defs) {
      if (def.kind === 'value') {
        names.push(def.serializer);
        // ES modules a snapshot refers to are imported first: its decode is synchronous, and require() cannot load top-level await.
        if (def.imports) imports.push(...modulesToImport(def.imports));
      } else if (def.kind === 'ref') names.push(...(referenceKind(def.ref).serializers?.(def.state) ?? []));
    }
    if (!imports.length && names.every(isSerializerLoaded)) return undefined;
    return (async () => {
      const serializer = await loadSerializer(batch.serializer, batch.serializerModule);
      for (const name of names.slice(1)) await loadSerializer(name);
      await importModules(imports);
      return serializer;
    })();
  }

  /** `timing`, when the batch asked to be profiled, receives the decode, per-task and encode times. */
  private runLoaded(batch: WireBatch, clones: boolean, serializer: Serializer, timing: NonNullable<WireReply['timing']> | undefined): WireReply | Promise<WireReply> {
    // The batch's argument arrays, decoded in one call.
    let argsList: unknown[];
    const clock = timing ? performance.now() : 0;
    try {
      argsList = batch.args ?? (decodeValue(batch.packed!, serializer, { phase: 'deserialize-task', root: 'args', taskIndex: batch.indices[0] }) as unknown[]);
    } catch (error) {
      const details = (error as SerializationError).toDetails();
      return { failures: batch.indices.map((index): WireResult => ({ index, ok: false, kind: 'serialization', failure: details })) };
    }
    if (timing) timing.decodeMs = performance.now() - clock;
    return this.runTasks(batch, clones, serializer, argsList, timing, { failures: [], values: [], valueIndices: [] }, 0);
  }

  /** Tasks `from` on, one after another, synchronously until one returns a promise. */
  private runTasks(
    batch: WireBatch,
    clones: boolean,
    serializer: Serializer,
    argsList: unknown[],
    timing: NonNullable<WireReply['timing']> | undefined,
    done: { failures: WireResult[]; values: unknown[]; valueIndices: number[] },
    from: number,
  ): WireReply | Promise<WireReply> {
    const record = (index: number, outcome: Outcome) => {
      if ('ran' in outcome) {
        done.values.push(outcome.ran);
        done.valueIndices.push(index);
      } else done.failures.push(outcome);
    };
    // runTask turns every expected failure into a result; this is the net for the rest
    // (a value whose getters throw while an error message is being built, say).
    const unexpected = (index: number, error: unknown) =>
      this.serializationFailure(index, 'serialize-result', 'result', serializer.name, error, 'Return plain data; reading the value (or the error) the task produced threw.');
    for (let i = from; i < batch.indices.length; i++) {
      const index = batch.indices[i]!;
      const task: WireTask = { index, fn: typeof batch.fns === 'string' ? batch.fns : batch.fns[i]!, refKey: batch.refKeys?.[i] };
      const clock = timing ? performance.now() : 0;
      let outcome: Outcome | Promise<Outcome>;
      try {
        outcome = this.runTask(task, serializer, batch.unary ? [argsList[i]] : argsList[i], batch.run);
      } catch (error) {
        outcome = unexpected(index, error);
      }
      if (outcome instanceof Promise) {
        return outcome.then(
          (settled) => {
            if (timing) timing.taskMs.push(performance.now() - clock);
            record(index, settled);
            return this.runTasks(batch, clones, serializer, argsList, timing, done, i + 1);
          },
          (error: unknown) => {
            record(index, unexpected(index, error));
            return this.runTasks(batch, clones, serializer, argsList, timing, done, i + 1);
          },
        );
      }
      if (timing) timing.taskMs.push(performance.now() - clock);
      record(index, outcome);
    }
    const { failures, values, valueIndices } = done;
    if (!values.length) return { failures };
    if (clones && clonesAsIs(serializer, values)) return failures.length ? { values, failures } : { values };
    const clock = timing ? performance.now() : 0;
    const reply = this.packValues(values, valueIndices, failures, serializer);
    if (timing) timing.encodeMs = performance.now() - clock;
    return reply;
  }

  /** A reply whose `values` the transport refused to clone, with the values serialized instead. */
  repack(batch: WireBatch, reply: WireReply): WireReply {
    const failed = new Set((reply.failures ?? []).map((failure) => failure.index));
    const valueIndices = batch.indices.filter((index) => !failed.has(index));
    return this.packValues(reply.values ?? [], valueIndices, reply.failures ?? [], getSerializer(batch.serializer));
  }

  private packValues(values: unknown[], valueIndices: number[], failures: WireResult[], serializer: Serializer): WireReply {
    try {
      // The values, in batch order, encoded in one call: one buffer back, moved rather than copied.
      return { packed: serializer.serialize(values), failures: failures.length ? failures : undefined };
    } catch {
      // One of them cannot travel: encode each alone, so the failure is the right task's, with its path.
      return { results: [...failures, ...valueIndices.map((index, k) => this.encodeResult(index, values[k], serializer))] };
    }
  }

  private encodeResult(index: number, value: unknown, serializer: Serializer): WireResult {
    try {
      return { index, ok: true, value: encodeValue(value, { serializer, root: 'result', phase: 'serialize-result', taskIndex: index }).data };
    } catch (error) {
      if (error instanceof SerializationError) return { index, ok: false, kind: 'serialization', failure: error.toDetails() };
      return this.serializationFailure(index, 'serialize-result', 'result', serializer.name, error, 'Return plain data from the task.');
    }
  }

  /** Drop defs the main thread no longer needs (values wrapped for one run). */
  forget(ids: readonly string[]): void {
    for (const id of ids) {
      const def = this.defs.get(id);
      if (def?.kind === 'ref') referenceKind(def.ref).forgotten?.(def.state);
      this.defs.delete(id);
      this.built.delete(id);
      this.builtFor.delete(id);
    }
  }

  /** Run one task: its value (`ran`), or a failure result. `args`: its arguments, from the batch's packed buffer. */
  private runTask(task: WireTask, serializer: Serializer, packedArgs: unknown, run: number | undefined): Outcome | Promise<Outcome> {
    const { index } = task;
    let fn: unknown;
    try {
      fn = this.build(task.fn, run);
    } catch (error) {
      return this.serializationFailure(index, 'deserialize-task', 'fn', serializer.name, error,
        'The worker rebuilt the task function from what the main thread sent, and that failed as the message says: ' +
          'a module the worker cannot load (check the path and that it loads without top-level await), or code that does not compile there.');
    }
    if (typeof fn !== 'function') {
      return this.serializationFailure(index, 'deserialize-task', 'fn', serializer.name, new TypeError(`the task's function arrived as ${typeof fn}`),
        'Pass a function to delayed().');
    }
    let args: unknown;
    try {
      args = packedArgs;
      if (task.refKey) args = resolveReferences(args, task.refKey, (id) => this.build(id));
    } catch (error) {
      if (error instanceof SerializationError) return { index, ok: false, kind: 'serialization', failure: error.toDetails() };
      return this.serializationFailure(index, 'deserialize-task', 'args', serializer.name, error, 'Check the serializer and the wrapped values.');
    }
    const threw = (thrown: unknown): Outcome => ({ index, ok: false, kind: 'thrown', ...encodeThrown(recordThrown(thrown), serializer) });
    let result: unknown;
    try {
      result = (fn as (...a: unknown[]) => unknown)(...(args as unknown[]));
    } catch (thrown) {
      return threw(thrown);
    }
    // A promise (or any thenable) is awaited; anything else is the answer now.
    if (typeof (result as { then?: unknown } | null)?.then !== 'function') return { ran: result };
    return Promise.resolve(result).then((ran): Outcome => ({ ran }), threw);
  }

  private build(id: string, run?: number): unknown {
    const def = this.defs.get(id);
    if (this.built.has(id) && (def?.kind !== 'value' || this.builtFor.get(id) === run)) return this.built.get(id);
    if (!def) throw new Error(`definition ${id} never reached this worker`);
    if (def.kind === 'value' && run !== undefined) this.builtFor.set(id, run);
    let value: unknown;
    if (def.kind === 'function') value = compileFunction(def.source, def.form);
    else if (def.kind === 'global') value = resolveGlobalPath(def.path);
    else if (def.kind === 'ref') value = referenceKind(def.ref).rebuild(def.state, def.id);
    else value = getSerializer(def.serializer).deserialize(def.data);
    this.built.set(id, value);
    return value;
  }

  private serializationFailure(
    index: number,
    phase: SerializationPhase,
    path: string,
    serializer: string,
    error: unknown,
    remedy: string,
  ): WireResult {
    const problem = error instanceof Error ? error.message : String(error);
    return { index, ok: false, kind: 'serialization', failure: { phase, path, serializer, problem, remedy } };
  }
}

