import { SerializationError, type SerializationPhase } from '../errors.js';
import { compileFunction, resolveGlobalPath } from '../closure/compile.js';
import { getSerializer, loadSerializer } from '../serialize/registry.js';
import { decodeValue, encodeValue, resolveReferences } from '../serialize/payload.js';
import type { Serializer } from '../serialize/types.js';
import { clonesAsIs } from '../serialize/scan.js';
import type { WireBatch, WireDef, WireReply, WireResult, WireTask } from './protocol.js';
import { PersistedModel } from '../sharing/persisted.js';
import { Counter } from '../sharing/counter.js';
import { encodeThrown, recordThrown } from './thrown.js';

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
   * Run a batch. `clones`: the reply goes through a transport that structured-clones it, so plain
   * values may travel as they are (`values`); if the transport then refuses them, `repack` serializes.
   */
  async runBatch(batch: WireBatch, clones = false): Promise<WireReply> {
    if (!batch.profile) return this.runBatchTimed(batch, clones, undefined);
    const timing = { decodeMs: 0, encodeMs: 0, taskMs: [] as number[] };
    const reply = await this.runBatchTimed(batch, clones, timing);
    return { ...reply, timing };
  }

  /** `timing`, when the batch asked to be profiled, receives the decode, per-task and encode times. */
  private async runBatchTimed(batch: WireBatch, clones: boolean, timing: NonNullable<WireReply['timing']> | undefined): Promise<WireReply> {
    for (const def of batch.defs) {
      this.defs.set(def.id, def);
      // Built now: a closure that captured the counter finds it by id when it is rebuilt.
      if (def.kind === 'counter') this.build(def.id);
    }
    let serializer: Serializer;
    try {
      serializer = await loadSerializer(batch.serializer, batch.serializerModule);
      // Values wrapped with wrapNonSerializable name their own (fallback) serializer; load it before build() needs it.
      for (const def of batch.defs) if (def.kind === 'value') await loadSerializer(def.serializer);
      // Persisted files are written with 'auto'.
      if (batch.defs.some((def) => def.kind === 'file')) await loadSerializer('auto');
    } catch (error) {
      const failure = (index: number): WireResult => this.serializationFailure(index, 'deserialize-task', 'args', batch.serializer, error,
        `Register the serializer in the worker: registerSerializer(s, { module: import.meta.url }) in a module of its own.`);
      return { failures: batch.indices.map((index) => failure(index)) };
    }
    // The batch's argument arrays, decoded in one call.
    let argsList: unknown[];
    let clock = timing ? performance.now() : 0;
    try {
      argsList = batch.args ?? (decodeValue(batch.packed!, serializer, { phase: 'deserialize-task', root: 'args', taskIndex: batch.indices[0] }) as unknown[]);
    } catch (error) {
      const details = (error as SerializationError).toDetails();
      return { failures: batch.indices.map((index): WireResult => ({ index, ok: false, kind: 'serialization', failure: details })) };
    }
    if (timing) timing.decodeMs = performance.now() - clock;
    const failures: WireResult[] = [];
    const values: unknown[] = [];
    const valueIndices: number[] = [];
    for (let i = 0; i < batch.indices.length; i++) {
      const index = batch.indices[i]!;
      const task: WireTask = { index, fn: typeof batch.fns === 'string' ? batch.fns : batch.fns[i]!, refKey: batch.refKeys?.[i] };
      try {
        if (timing) clock = performance.now();
        const outcome = await this.runTask(task, serializer, argsList[i]);
        if (timing) timing.taskMs.push(performance.now() - clock);
        if ('ran' in outcome) {
          values.push(outcome.ran);
          valueIndices.push(index);
        } else failures.push(outcome);
      } catch (error) {
        // runTask turns every expected failure into a result; this is the net for the rest
        // (a value whose getters throw while an error message is being built, say).
        failures.push(this.serializationFailure(index, 'serialize-result', 'result', serializer.name, error,
          'Return plain data; reading the value (or the error) the task produced threw.'));
      }
    }
    if (!values.length) return { failures };
    if (clones && clonesAsIs(serializer, values)) return { values, failures: failures.length ? failures : undefined };
    if (timing) clock = performance.now();
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
      this.defs.delete(id);
      this.built.delete(id);
    }
  }

  /** Run one task: its value (`ran`), or a failure result. `args`: its arguments, from the batch's packed buffer. */
  private async runTask(task: WireTask, serializer: Serializer, packedArgs: unknown): Promise<{ ran: unknown } | WireResult> {
    const { index } = task;
    let fn: unknown;
    try {
      fn = this.build(task.fn);
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
    let result: unknown;
    try {
      result = await (fn as (...a: unknown[]) => unknown)(...(args as unknown[]));
    } catch (thrown) {
      return { index, ok: false, kind: 'thrown', ...encodeThrown(recordThrown(thrown), serializer) };
    }
    return { ran: result };
  }

  private build(id: string): unknown {
    if (this.built.has(id)) return this.built.get(id);
    const def = this.defs.get(id);
    if (!def) throw new Error(`definition ${id} never reached this worker`);
    let value: unknown;
    if (def.kind === 'function') value = compileFunction(def.source, def.form);
    else if (def.kind === 'global') value = resolveGlobalPath(def.path);
    else if (def.kind === 'shared') value = def.persisted ? PersistedModel.received(def.id, { value: def.value }, false) : def.value;
    // The file is read on the first get(), once per worker: the handle is kept here.
    else if (def.kind === 'file') value = PersistedModel.received(def.id, { file: def.path }, false);
    else if (def.kind === 'counter') value = Counter.received(def.state);
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

