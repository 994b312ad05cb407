/**
 * The messages between the main thread and a worker. Task data is already
 * bytes (or text) made by the serializer the batch names; the transport
 * (postMessage, IPC) only moves them.
 */
import type { SerializationPhase, ThrownRecord } from '../errors.js';
import type { SourceForm } from '../source/sourceForm.js';

export type Bytes = Uint8Array | string;

/**
 * Something a task refers to by id, sent to each worker once: a function's
 * source (cached by a hash of it), a built-in by path, a task function with
 * its captures encoded by a serializer, or a by-reference value
 * (values/byReference.ts: a persisted handle, a shared array, a Counter, a
 * wrapped value), whose `state` its kind made and the transport's own
 * structured clone carries (on threads, SharedArrayBuffers are shared).
 */
export type WireDef =
  | { kind: 'function'; id: string; name: string; source: string; form: SourceForm }
  | { kind: 'global'; id: string; name: string; path: string }
  /** `imports`: ES module files the snapshot refers to, imported before it is decoded (top-level await). */
  | { kind: 'value'; id: string; serializer: string; data: Bytes; imports?: string[] }
  | { kind: 'ref'; id: string; ref: string; state: unknown };

/** One task, as the encoder describes it before it joins a batch. */
export interface WireTask {
  /** The task's index in submission order. */
  index: number;
  /** Id of the def that holds the task's function. */
  fn: string;
  /** Set when the arguments hold references to value defs: the placeholder key they use. */
  refKey?: string | undefined;
}

export interface WireBatch {
  id: number;
  /** Serializer of `args` and of the answer. */
  serializer: string;
  /** Module that registers `serializer` in a worker, for user serializers. */
  serializerModule?: string | undefined;
  /** Defs the tasks use; the pool strips the ones a worker already has. */
  defs: WireDef[];
  /**
   * The tasks, as columns rather than one object each (a batch may hold thousands, and each
   * object costs a clone): their indices, their function (one id when they all share it),
   * and their placeholder keys when any has references.
   */
  indices: number[];
  fns: string | string[];
  refKeys?: (string | undefined)[];
  /** The argument arrays of all the tasks, in order, serialized in one call (one buffer to send). */
  packed?: Bytes;
  /**
   * Or the argument arrays themselves, when the transport's own structured clone carries them
   * exactly as the serializer would (see Serializer.transportClones): one clone instead of an
   * encode, a copy of the bytes and a decode. Only on backends whose transport clones.
   */
  args?: unknown[];
  /** `args` holds each task's one argument rather than its argument array (every task had one, and no references). */
  unary?: true;
  /** Measure the batch: the reply then carries `timing` (enableProfiling). */
  profile?: boolean;
  /**
   * The run the batch belongs to, when its tasks use closure snapshots: a worker rebuilds a
   * snapshot once per run, so what one run's tasks wrote into captured objects is not seen by the next.
   */
  run?: number;
}

/**
 * A worker's answer to a batch. Usually `packed`: the values of the tasks that succeeded, in
 * batch order, in one buffer, and `failures` for the others. When the values could not be
 * packed together, `results`: one result per task, each value encoded alone.
 */
export interface WireReply {
  packed?: Bytes;
  /** Or the values themselves, carried by a cloning transport (as `WireBatch.args`). */
  values?: unknown[];
  /** The worker's own times for a batch that asked (`profile`), in milliseconds: each task's run time in batch order. */
  timing?: { decodeMs: number; encodeMs: number; taskMs: number[] };
  /** Which worker answered: set by the backend (its own number for the worker), for per-worker profiles. */
  worker?: number;
  failures?: WireResult[];
  results?: WireResult[];
}

export interface WireSerializationFailure {
  phase: SerializationPhase;
  path: string;
  serializer: string;
  problem: string;
  remedy: string;
}

export type WireResult =
  /** `at`: the value's position in the reply's packed buffer; `value`: encoded on its own. */
  | { index: number; ok: true; value?: Bytes; at?: number }
  /** The task threw: `data` is the ThrownRecord in the batch's serializer, `record` a plain copy when that failed. */
  | { index: number; ok: false; kind: 'thrown'; data?: Bytes; record?: ThrownRecord }
  | { index: number; ok: false; kind: 'serialization'; failure: WireSerializationFailure };

export type ToWorker =
  | { type: 'batch'; batch: WireBatch }
  | { type: 'forget'; ids: string[] }
  /** A batch waiting in the worker's port was cancelled: skip it when its turn comes. */
  | { type: 'cancel'; batchId: number };

export type FromWorker =
  /** Sent once, when the runtime has loaded and listens: start-up time is not task time. */
  | { type: 'ready' }
  | ({ type: 'reply'; batchId: number } & WireReply)
  /** The worker is about to die from an error outside any task. */
  | { type: 'fatal'; message: string }
  /** A by-reference value's message to its kind on the main side (a Counter's increment from a child process). */
  | { type: 'ref'; kind: string; body: unknown }
  /** A line for the main thread's stderr (a Counter's message), ahead of the batch's reply. */
  | { type: 'log'; text: string };
