import { InitializerError, SerializationError, TaskError, UnhandledRejectionError, type ThrownRecord } from '../errors.js';
import { decodeValue } from '../serialize/payload.js';
import type { Serializer } from '../serialize/types.js';
import type { WireBatch, WireDef, WireReply, WireResult } from '../runtime/protocol.js';
import type { Formed, TaskEncoder } from './taskEncoder.js';
import { estimatePayloadBytes } from './profiler.js';

/** Where read() hands the values of a reply. */
export interface ResultSink<T> {
  put(index: number, value: T): void;
}

let nextBatchId = 0;

/**
 * The main side's mirror of runtime/taskRunner's packing: prepared tasks
 * become one WireBatch message (each def once, the arguments in one payload),
 * and a WireReply becomes values in batch order, or the first failure thrown.
 */
export class BatchWire {
  constructor(
    private readonly encoder: TaskEncoder,
    private readonly serializer: Serializer,
    private readonly serializerModule: string | undefined,
    /** The backend's transport structured-clones its messages: plain arguments may travel as they are. */
    private readonly transportClones: boolean,
    /** The run's initializer: every batch names it, and a worker runs it before its first task. */
    private readonly initializer?: () => unknown,
  ) {}

  /** The message for a formed batch; throws the SerializationError of a task that cannot travel. */
  build(formed: Formed, profile: boolean): WireBatch {
    const payload = this.encoder.packForTransport(formed, this.transportClones);
    const defs = new Map<string, WireDef>();
    // Tasks of one function share one defs array: each array is read once.
    for (const used of formed.defsUsed()) for (const def of used) defs.set(def.id, def);
    // Every key costs its clone in both directions: the optional ones only when set.
    const batch: WireBatch = {
      id: nextBatchId++,
      serializer: this.serializer.name,
      defs: [...defs.values()],
      // The formed batch's own arrays: it is not added to once sent.
      indices: formed.indices,
      fns: formed.fns,
      ...payload,
    };
    if (this.serializerModule !== undefined) batch.serializerModule = this.serializerModule;
    if (formed.refKeys) batch.refKeys = formed.refKeys;
    if (profile) batch.profile = true;
    if (this.initializer) {
      // Its defs go with every batch; the pool sends them to each worker once.
      const init = this.encoder.initializerDefs(this.initializer);
      for (const def of init) defs.set(def.id, def);
      batch.defs = [...defs.values()];
      batch.init = init[init.length - 1]!.id;
    }
    if (this.encoder.usesSnapshots || this.encoder.usesKeptCopies) batch.run = this.encoder.runId;
    return batch;
  }

  /**
   * The same batch with its plain `args` serialized into `packed`, for a transport that refused to
   * clone them (a symbol, say). Throws the SerializationError that names the task and the path.
   */
  packed(batch: WireBatch, formed: Formed): WireBatch {
    return { ...batch, args: undefined, unary: undefined, packed: this.encoder.pack(formed) };
  }

  /**
   * Hand a reply's values to `sink` by task index and return how many there were; throws the
   * first failure (a TaskError, a SerializationError), before any value of a compact reply.
   * With `failed` (a settled run), each failure goes there with its task's index instead.
   */
  read<T>(reply: WireReply, indices: readonly number[], sink: ResultSink<T>, failed?: (index: number, error: unknown) => void): number {
    if (reply.results) {
      for (const result of reply.results) this.accept(result, sink, failed);
      return reply.results.length;
    }
    return this.readCompact(reply, indices, sink, failed);
  }

  /** A compact reply: the values of the tasks that succeeded in batch order, and the failures. */
  private readCompact<T>(reply: WireReply, indices: readonly number[], sink: ResultSink<T>, onFailure?: (index: number, error: unknown) => void): number {
    const failed = reply.failures?.length ? new Map(reply.failures.map((failure) => [failure.index, failure])) : undefined;
    // A failure goes first: the run fails with it, as it would have task by task.
    if (failed) for (const failure of failed.values()) this.accept(failure, sink, onFailure);
    if (reply.packed === undefined && reply.values === undefined) return 0;
    let values: unknown[];
    try {
      values = reply.values ?? (decodeValue(reply.packed!, this.serializer, { phase: 'deserialize-result', root: 'result', taskIndex: indices[0] }) as unknown[]);
    } catch (error) {
      if (!onFailure) throw error;
      // The batch's values come in one payload: each task whose value was in it gets the error.
      for (const index of indices) if (!failed?.has(index)) onFailure(index, error);
      return 0;
    }
    let next = 0;
    for (const index of indices) if (!failed?.has(index)) sink.put(index, values[next++] as T);
    return next;
  }

  private accept<T>(result: WireResult, sink: ResultSink<T>, onFailure?: (index: number, error: unknown) => void): void {
    let error: unknown;
    try {
      if (result.ok) {
        sink.put(result.index, decodeValue(result.value!, this.serializer, { phase: 'deserialize-result', root: 'result', taskIndex: result.index }) as T);
        return;
      }
      error = this.failureOf(result);
    } catch (thrown) {
      error = thrown;
    }
    if (!onFailure) throw error;
    onFailure(result.index, error);
  }

  /** The error a failed result stands for. */
  failureOf(result: Extract<WireResult, { ok: false }>): unknown {
    if (result.kind === 'serialization') return new SerializationError({ ...result.failure, taskIndex: result.index });
    let record = result.record;
    if (result.data !== undefined) {
      record = decodeValue(result.data, this.serializer, { phase: 'deserialize-result', root: 'error', taskIndex: result.index }) as ThrownRecord;
    }
    const error =
      result.kind === 'initializer'
        ? new InitializerError([result.index], record!)
        : result.unhandled
          ? new UnhandledRejectionError(result.index, record!, result.unhandled === 'within')
          : new TaskError(result.index, record!);
    this.unplaced.push(error);
    return error;
  }

  /** Failures made since the last call, to be given where the run was awaited (addRunStack) once they reach the caller. */
  private unplaced: (TaskError | InitializerError)[] = [];

  takeUnplaced(): (TaskError | InitializerError)[] {
    const taken = this.unplaced;
    if (taken.length) this.unplaced = [];
    return taken;
  }
}

/** Bytes a batch carries, for a profile or a progress line: read before it is sent (sending moves `packed`). */
export function batchBytes(batch: WireBatch, timed: boolean): { bytes: number; estimated: boolean } {
  if (batch.packed !== undefined) return { bytes: batch.packed.length, estimated: false };
  return { bytes: timed ? estimatePayloadBytes(batch.args) : 0, estimated: true };
}

/** What a reply says for a profile: its failed tasks, and its bytes when timed. */
export function replyFacts(reply: WireReply, timed: boolean): { failed: number; bytes: number; estimated: boolean } {
  const failed = reply.results ? reply.results.filter((r) => !r.ok).length : (reply.failures?.length ?? 0);
  let bytes = 0;
  if (timed) {
    if (reply.packed !== undefined) bytes = reply.packed.length;
    else if (reply.values !== undefined) bytes = estimatePayloadBytes(reply.values);
    for (const result of reply.results ?? []) if (result.ok && result.value !== undefined) bytes += result.value.length;
  }
  return { failed, bytes, estimated: reply.values !== undefined };
}

