import { SerializationError, type SerializationPhase } from '../errors.js';
import { compileFunction, resolveGlobalPath } from '../source/compile.js';
import { getSerializer, isSerializerLoaded, loadSerializer } from '../serialize/registry.js';
import { aheadLoading, loadNow } from '../values/loadNow.js';
import type { Serializer } from '../serialize/types.js';
import { clonesAsIs } from '../serialize/scan.js';
import type { WireBatch, WireDef, WireReply, WireResult, WireTask } from './protocol.js';
import { referenceKind } from '../values/byReference.js';
import { encodeThrown, plainThrown, recordThrown } from './thrown.js';
import { rejections, type TaskTag } from './rejections.js';
import { progress } from './progress.js';
import { setBatchState, withState, type StateHolder } from './workerState.js';

type Payload = typeof import('../serialize/payload.js');
let payloadModule: Payload | undefined;
/**
 * serialize/payload.ts (with the remedies and node:crypto behind it): required the first time a batch
 * has packed arguments, references or a result the transport cannot carry as it is (runtime/onDemand.ts).
 */
const payload = (): Payload => (payloadModule ??= loadNow<Payload>(new URL('../serialize/payload.js', import.meta.url)));

/**
 * closure/modules.ts (with the inspector and the parser's loader): loaded the first time a
 * snapshot names ES modules to import, not at a worker's start (runtime/onDemand.ts).
 */
let modules: typeof import('../closure/modules.js') | undefined;

/** What running one task gave: its value, or a failure result. */
type Outcome = { ran: unknown } | WireResult;
/** The outcome `call` gives for a value it has at once: the value itself is in TaskRunner.ran, read before the next call. */
const RAN: Outcome = { ran: undefined };

/** The indices of a batch's tasks that succeeded: every task has a value or a failure. */
function succeeded(indices: readonly number[], failures: readonly WireResult[]): number[] {
  if (!failures.length) return indices as number[];
  const failed = new Set(failures.map((failure) => failure.index));
  return indices.filter((index) => !failed.has(index));
}

/** What a batch's tasks have given so far, and what it needs to finish its reply. */
interface BatchProgress {
  failures: WireResult[];
  /** The values of the tasks that succeeded, in batch order (their indices: the batch's, less the failures'). */
  values: unknown[];
  /** `rejections.made` when the batch started: a batch that made no promise left no rejection. */
  made: number;
  /** The initializer's state for the batch's tasks, when the run has one. */
  state: StateHolder | undefined;
}

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
  /** What each initializer (by def id) returned in this worker: run once, kept until forgotten. */
  private readonly states = new Map<string, StateHolder>();
  /** The value of the task `call` answered last with RAN. */
  private ran: unknown;
  /** Batches running here, with the unhandled rejections their tasks left so far (by task index). */
  private readonly open = new Map<number, Map<number, { reason: unknown; within: boolean }>>();

  /** `sameThread`: tasks run in the main thread (inline), where another Parallel's tasks interleave. */
  constructor(private readonly sameThread = false) {}

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
    // What a worker loads on demand, where it has to import it first instead (values/loadNow.ts).
    const loadingAhead = aheadLoading();
    if (loadingAhead) return loadingAhead.then(() => this.runBatchNow(batch, clones));
    const timing = batch.profile ? { decodeMs: 0, encodeMs: 0, taskMs: [] as number[] } : undefined;
    const begun = performance.now();
    const withTiming = (reply: WireReply): WireReply => {
      reply.ms = performance.now() - begun;
      return timing ? { ...reply, timing } : reply;
    };
    for (const def of batch.defs) {
      this.defs.set(def.id, def);
      // Its kind told now when it asks: a closure that captured it finds it by id when it is rebuilt.
      if (def.kind === 'ref') referenceKind(def.ref).arrived?.(def.state, def.id);
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
    // Named by a snapshot before closure/modules.ts was loaded here: filtered once it is.
    let unfiltered = false;
    // Closure snapshots name their serializer; a by-reference kind says what it needs (a wrapped value its fallback serializer).
    for (const def of batch.defs) {
      if (def.kind === 'value') {
        names.push(def.serializer);
        // ES modules a snapshot refers to are imported first: its decode is synchronous, and require() cannot load top-level await.
        if (def.imports?.length) {
          if (modules) imports.push(...modules.modulesToImport(def.imports));
          else {
            imports.push(...def.imports);
            unfiltered = true;
          }
        }
      } else if (def.kind === 'ref') names.push(...(referenceKind(def.ref).serializers?.(def.state) ?? []));
    }
    if (!imports.length && names.every(isSerializerLoaded)) return undefined;
    return (async () => {
      const serializer = await loadSerializer(batch.serializer, batch.serializerModule);
      for (const name of names.slice(1)) await loadSerializer(name);
      if (imports.length) {
        modules ??= await import('../closure/modules.js');
        await modules.importModules(unfiltered ? modules.modulesToImport(imports) : imports);
      }
      return serializer;
    })();
  }

  /** `timing`, when the batch asked to be profiled, receives the decode, per-task and encode times. */
  private runLoaded(batch: WireBatch, clones: boolean, serializer: Serializer, timing: NonNullable<WireReply['timing']> | undefined): WireReply | Promise<WireReply> {
    // The batch's argument arrays, decoded in one call.
    let argsList: unknown[];
    const clock = timing ? performance.now() : 0;
    try {
      argsList = batch.args ?? (payload().decodeValue(batch.packed!, serializer, { phase: 'deserialize-task', root: 'args', taskIndex: batch.indices[0] }) as unknown[]);
    } catch (error) {
      const details = (error as SerializationError).toDetails();
      return { failures: batch.indices.map((index): WireResult => ({ index, ok: false, kind: 'serialization', failure: details })) };
    }
    if (timing) timing.decodeMs = performance.now() - clock;
    const start = (state: StateHolder | undefined) => {
      if (rejections.enabled) this.open.set(batch.id, new Map());
      if (!this.sameThread) setBatchState(state);
      return this.runTasks(batch, clones, serializer, argsList, timing, { failures: [], values: [], made: rejections.made, state }, 0);
    };
    if (batch.init === undefined) return start(undefined);
    const state = this.initialize(batch, serializer);
    const isHolder = (made: StateHolder | WireReply): made is StateHolder => 'value' in made;
    if (state instanceof Promise) return state.then((ready) => (isHolder(ready) ? start(ready) : ready));
    return isHolder(state) ? start(state) : state;
  }

  /**
   * The run's initializer state in this worker: made by calling the initializer the first time a
   * batch names it, kept by its def id. If it throws, every task of the batch fails with what it
   * threw, and the next batch tries again (a connection that failed once may succeed later).
   */
  private initialize(batch: WireBatch, serializer: Serializer): StateHolder | WireReply | Promise<StateHolder | WireReply> {
    const id = batch.init!;
    const held = this.states.get(id);
    if (held) return held;
    let fn: unknown;
    try {
      fn = this.build(id, batch.run);
      if (typeof fn !== 'function') throw new TypeError(`the initializer arrived as ${typeof fn}`);
    } catch (error) {
      return {
        failures: batch.indices.map((index) => this.serializationFailure(index, 'deserialize-task', 'initializer', serializer.name, error,
          'The worker rebuilt the initializer from what the main thread sent, and that failed as the message says.')),
      };
    }
    const failed = (thrown: unknown): WireReply => {
      const encoded = encodeThrown(recordThrown(thrown), serializer);
      return { failures: batch.indices.map((index): WireResult => ({ index, ok: false, kind: 'initializer', ...encoded })) };
    };
    const keep = (value: unknown): StateHolder => {
      const holder = { value };
      this.states.set(id, holder);
      return holder;
    };
    let result: unknown;
    try {
      result = (fn as () => unknown)();
    } catch (thrown) {
      return failed(thrown);
    }
    if (typeof (result as { then?: unknown } | null)?.then !== 'function') return keep(result);
    return Promise.resolve(result).then(keep, failed);
  }

  /** Tasks `from` on, one after another, synchronously until one returns a promise. */
  private runTasks(
    batch: WireBatch,
    clones: boolean,
    serializer: Serializer,
    argsList: unknown[],
    timing: NonNullable<WireReply['timing']> | undefined,
    done: BatchProgress,
    from: number,
  ): WireReply | Promise<WireReply> {
    const record = (outcome: Outcome) => {
      if (!this.sameThread) progress.finish(done.values.length + done.failures.length);
      if (outcome === RAN) done.values.push(this.ran);
      else if ('ran' in outcome) done.values.push(outcome.ran);
      else done.failures.push(outcome);
    };
    // runTask turns every expected failure into a result; this is the net for the rest
    // (a value whose getters throw while an error message is being built, say).
    const unexpected = (index: number, error: unknown) =>
      this.serializationFailure(index, 'serialize-result', 'result', serializer.name, error, 'Return plain data; reading the value (or the error) the task produced threw.');
    // The commonest batch, every task calling one function with nothing to resolve: the function is
    // built once for the batch, not looked up task by task (a tenth of a worker's time for x + 1).
    // Built inside the first task's context, as each task's own build was: what building runs (a
    // package's module loaded by require, say) and the promises it leaves are that task's.
    const oneFunction = typeof batch.fns === 'string' && !batch.refKeys && !(done.state && this.sameThread) ? batch.fns : undefined;
    let sole: Function | undefined;
    let tried = oneFunction === undefined;
    for (let i = from; i < batch.indices.length; i++) {
      const index = batch.indices[i]!;
      const clock = timing ? performance.now() : 0;
      let outcome: Outcome | Promise<Outcome> | undefined;
      rejections.enter(batch.id, index);
      if (!this.sameThread) progress.start(batch.id, i);
      try {
        if (!tried || sole) {
          const outer = rejections.begin();
          try {
            if (!tried) {
              tried = true;
              sole = this.builtFunction(oneFunction!, batch.run);
            }
            if (sole) outcome = this.call(index, sole, argsList[i], batch.unary === true, serializer);
          } finally {
            rejections.restore(outer);
          }
        }
        if (outcome === undefined) {
          const task: WireTask = { index, fn: typeof batch.fns === 'string' ? batch.fns : batch.fns[i]!, refKey: batch.refKeys?.[i] };
          const args = batch.unary ? [argsList[i]] : argsList[i];
          outcome = done.state && this.sameThread
            ? withState(done.state, () => this.runTask(task, serializer, args, batch.run))
            : rejections.run(() => this.runTask(task, serializer, args, batch.run));
        }
      } catch (error) {
        outcome = unexpected(index, error);
      }
      if (outcome instanceof Promise) {
        return outcome.then(
          (settled) => {
            rejections.leave();
            if (timing) timing.taskMs.push(performance.now() - clock);
            record(settled);
            return this.runTasks(batch, clones, serializer, argsList, timing, done, i + 1);
          },
          (error: unknown) => {
            rejections.leave();
            record(unexpected(index, error));
            return this.runTasks(batch, clones, serializer, argsList, timing, done, i + 1);
          },
        );
      }
      rejections.leave();
      if (timing) timing.taskMs.push(performance.now() - clock);
      record(outcome);
    }
    // A task made promises: one it left rejected with no handler is reported by Node after the
    // microtasks run, before the event loop's next phase. The reply waits for that (one turn of
    // the loop), so the rejection fails its task in this reply rather than in a later message.
    if (rejections.enabled && rejections.made !== done.made) {
      return new Promise((resolve) => setImmediate(() => resolve(this.finish(batch, clones, serializer, timing, done))));
    }
    return this.finish(batch, clones, serializer, timing, done);
  }

  /** The batch's reply: its values packed, its failures, and the rejections its tasks left. */
  private finish(batch: WireBatch, clones: boolean, serializer: Serializer, timing: NonNullable<WireReply['timing']> | undefined, done: BatchProgress): WireReply {
    if (!this.sameThread) setBatchState(undefined);
    const left = this.open.get(batch.id);
    this.open.delete(batch.id);
    if (left?.size) this.failLeft(batch, left, serializer, done);
    const { failures, values } = done;
    if (!values.length) return { failures };
    if (clones && clonesAsIs(serializer, values)) return failures.length ? { values, failures } : { values };
    const clock = timing ? performance.now() : 0;
    const reply = this.packValues(values, succeeded(batch.indices, failures), failures, serializer);
    if (timing) timing.encodeMs = performance.now() - clock;
    return reply;
  }

  /** Tasks that left a rejected promise fail with it (a task that failed already keeps its own failure). */
  private failLeft(batch: WireBatch, left: Map<number, { reason: unknown; within: boolean }>, serializer: Serializer, done: BatchProgress): void {
    const values: unknown[] = [];
    succeeded(batch.indices, done.failures).forEach((index, k) => {
      if (!left.has(index)) values.push(done.values[k]);
    });
    for (const [index, { reason, within }] of left) {
      if (done.failures.some((failure) => failure.index === index)) continue;
      done.failures.push({ index, ok: false, kind: 'thrown', unhandled: within ? 'within' : 'after', ...encodeThrown(recordThrown(reason), serializer) });
    }
    done.values = values;
  }

  /**
   * A promise the task `tag` names left rejected with no handler (trackRejections). Its batch still
   * running: the rejection fails the task in the reply, and undefined is returned. Its batch
   * answered already: the result to send on its own, in plain data the transport carries.
   */
  rejected(tag: TaskTag, reason: unknown): WireResult | undefined {
    const left = this.open.get(tag.batch);
    if (left) {
      if (!left.has(tag.index)) left.set(tag.index, { reason, within: tag.within });
      return undefined;
    }
    return { index: tag.index, ok: false, kind: 'thrown', unhandled: tag.within ? 'within' : 'after', record: plainThrown(recordThrown(reason)) };
  }

  /** A reply whose `values` the transport refused to clone, with the values serialized instead. */
  repack(batch: WireBatch, reply: WireReply): WireReply {
    return this.packValues(reply.values ?? [], succeeded(batch.indices, reply.failures ?? []), reply.failures ?? [], getSerializer(batch.serializer));
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
      return { index, ok: true, value: payload().encodeValue(value, { serializer, root: 'result', phase: 'serialize-result', taskIndex: index }).data };
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
      this.states.delete(id);
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
      if (task.refKey) args = payload().resolveReferences(args, task.refKey, (id) => this.build(id, run));
    } catch (error) {
      if (error instanceof SerializationError) return { index, ok: false, kind: 'serialization', failure: error.toDetails() };
      return this.serializationFailure(index, 'deserialize-task', 'args', serializer.name, error, 'Check the serializer and the wrapped values.');
    }
    return this.call(index, fn as Function, args, false, serializer);
  }

  /** The function `id` names, built, when it builds to a function; else undefined (each task then fails with why, in runTask). */
  private builtFunction(id: string, run: number | undefined): Function | undefined {
    try {
      const fn = this.build(id, run);
      return typeof fn === 'function' ? fn : undefined;
    } catch {
      return undefined;
    }
  }

  /** Call a task's function with `args` (its one argument when `unary`): its value (`ran`), awaited when it is a promise, or what it threw. */
  private call(index: number, fn: Function, args: unknown, unary: boolean, serializer: Serializer): Outcome | Promise<Outcome> {
    const threw = (thrown: unknown): Outcome => ({ index, ok: false, kind: 'thrown', ...encodeThrown(recordThrown(thrown), serializer) });
    let result: unknown;
    try {
      result = unary ? (fn as (a: unknown) => unknown)(args) : (fn as (...a: unknown[]) => unknown)(...(args as unknown[]));
    } catch (thrown) {
      return threw(thrown);
    }
    // A promise (or any thenable) is awaited; anything else is the answer now, held in `ran` (no object per task).
    if (typeof (result as { then?: unknown } | null)?.then !== 'function') {
      this.ran = result;
      return RAN;
    }
    return Promise.resolve(result).then((ran): Outcome => ({ ran }), threw);
  }

  private build(id: string, run?: number): unknown {
    const def = this.defs.get(id);
    // A closure snapshot, and a def its kind says a task may have written into, are rebuilt for each run.
    const eachRun = (def?.kind === 'value' && !def.acrossRuns) || (def?.kind === 'ref' && referenceKind(def.ref).rebuildEachRun?.(def.state) === true);
    if (this.built.has(id) && (!eachRun || this.builtFor.get(id) === run)) return this.built.get(id);
    if (!def) throw new Error(`definition ${id} never reached this worker`);
    if (eachRun && run !== undefined) this.builtFor.set(id, run);
    // What an earlier run's tasks left unwritten serves as it is: a compare instead of a new copy.
    if (def.kind === 'ref' && this.built.has(id) && referenceKind(def.ref).unwritten?.(def.state, this.built.get(id))) return this.built.get(id);
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

