/**
 * The messages between the main thread and a worker. Task data is already
 * bytes (or text) made by the serializer the batch names; the transport
 * (postMessage, IPC) only moves them.
 */
import type { SerializationPhase, ThrownRecord } from '../errors.js';
import type { SourceForm } from '../source/sourceForm.js';

/** What a serializer makes: bytes, or text for the text serializers (`json`, `javascript`). */
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
  | {
      /** A plain function sent as its source text. */
      kind: 'function';
      /** The id tasks use to name it: a hash of its source. */
      id: string;
      /** The function's name, for messages. */
      name: string;
      /** The function's source text. */
      source: string;
      /** How the source is compiled back: as an expression, or as a method written in shorthand. */
      form: SourceForm;
    }
  | {
      /** A built-in function, found by its path from globalThis in the worker. */
      kind: 'global';
      /** The id tasks use to name it. */
      id: string;
      /** The function's name, for messages. */
      name: string;
      /** Its path from globalThis, such as `Math.sqrt`. */
      path: string;
    }
  | {
      /** A task function with its captures, or a large value, encoded by a serializer. */
      kind: 'value';
      /** The id tasks use to name it: a hash of `data`. */
      id: string;
      /** The serializer that made `data` and rebuilds it. */
      serializer: string;
      /** The encoded value. */
      data: Bytes;
      /** ES module files the snapshot refers to, imported before it is decoded (top-level await). */
      imports?: string[];
      /**
       * Nothing a task runs can reach in what this rebuilds (an arrow function that captured
       * nothing): a worker builds it once, not once per run as a snapshot whose captured values
       * a run's tasks may write into.
       */
      acrossRuns?: true;
    }
  | {
      /** A by-reference value (persisted handle, shared array, Counter, wrapped value). */
      kind: 'ref';
      /** The id tasks use to name it. */
      id: string;
      /** The by-reference kind that rebuilds it (values/byReference.ts). */
      ref: string;
      /** What that kind needs to rebuild it, carried by the transport's structured clone. */
      state: unknown;
    };

/** One task, as the encoder describes it before it joins a batch. */
export interface WireTask {
  /** The task's index in submission order. */
  index: number;
  /** Id of the def that holds the task's function. */
  fn: string;
  /** Set when the arguments hold references to value defs: the placeholder key they use. */
  refKey?: string | undefined;
}

/** The unit of work a backend carries to a worker: tasks that share a serializer, with the defs they use. */
export interface WireBatch {
  /** The batch's number, unique in its `Parallel`, that the reply answers. */
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
  /** Each task's function def id, or one id when every task of the batch shares it. */
  fns: string | string[];
  /** Each task's placeholder key for references, when any task has references. */
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
   * The run the batch belongs to, when its tasks use closure snapshots or copies kept across runs:
   * a worker rebuilds those once per run, so what one run's tasks wrote into them is not seen by the next.
   */
  run?: number;
  /**
   * Id of the def of the run's `initializer`: a worker that has not run it yet runs it (once)
   * before the batch's first task; the tasks read what it returned with `workerState()`.
   */
  init?: string;
}

/**
 * A worker's answer to a batch. Usually `packed`: the values of the tasks that succeeded, in
 * batch order, in one buffer, and `failures` for the others. When the values could not be
 * packed together, `results`: one result per task, each value encoded alone.
 */
export interface WireReply {
  /** The succeeded tasks' values in batch order, serialized together. */
  packed?: Bytes;
  /** Or the values themselves, carried by a cloning transport (as `WireBatch.args`). */
  values?: unknown[];
  /** The worker's own times for a batch that asked (`profile`), in milliseconds: each task's run time in batch order. */
  timing?: {
    /** Rebuilding the batch's arguments. */
    decodeMs: number;
    /** Encoding the batch's results. */
    encodeMs: number;
    /** Each task's run time, in batch order. */
    taskMs: number[];
  };
  /**
   * Bytes of the worker's heap in use (V8's used heap plus external memory such as ArrayBuffers)
   * after the batch, when its pool recycles workers by memory (`maxWorkerMemory`).
   */
  memory?: number;
  /**
   * The worker's own time for the batch, from its arrival in the runner to the reply, in
   * milliseconds: what the batch sizer learns from. The time the main thread sees also holds
   * how long the reply waited for a busy main thread (in a first run, code not yet optimized
   * preparing the next tasks): taken alone, it made a slow main thread look like slow tasks
   * and kept batches small, which made the main thread slower still.
   */
  ms?: number;
  /** Which worker answered: set by the backend (its own number for the worker), for per-worker profiles. */
  worker?: number;
  /** With `packed` or `values`: the tasks that did not succeed. */
  failures?: WireResult[];
  /** Instead of `packed`: one result per task, each value encoded on its own. */
  results?: WireResult[];
}

/** A value the worker could not serialize or rebuild, described for a SerializationError. */
export interface WireSerializationFailure {
  /** Where it happened: rebuilding the arguments, or encoding the result. */
  phase: SerializationPhase;
  /** The path inside the value, such as `result -> .model -> [3]`. */
  path: string;
  /** The serializer that failed. */
  serializer: string;
  /** What could not be carried. */
  problem: string;
  /** What the user can do about it. */
  remedy: string;
}

/** One task's outcome in a reply. */
export type WireResult =
  | {
      /** The task's index in submission order. */
      index: number;
      /** The task returned a value. */
      ok: true;
      /** The value, encoded on its own. */
      value?: Bytes;
      /** Or the value's position in the reply's packed buffer. */
      at?: number;
    }
  | {
      /** The task's index in submission order. */
      index: number;
      /** The task did not return a value. */
      ok: false;
      /** It threw. */
      kind: 'thrown';
      /** What it threw, as a ThrownRecord in the batch's serializer. */
      data?: Bytes;
      /** A plain copy of the ThrownRecord, when the serializer could not encode it. */
      record?: ThrownRecord;
      /**
       * Set when what failed the task is a promise it left that rejected with no handler: 'within'
       * when the promise was made while the task ran, 'after' when only later (the task ran last).
       */
      unhandled?: 'within' | 'after';
    }
  | {
      /** The task's index in submission order. */
      index: number;
      /** The task did not run. */
      ok: false;
      /** The worker's initializer threw before it. */
      kind: 'initializer';
      /** What the initializer threw, as a ThrownRecord in the batch's serializer. */
      data?: Bytes;
      /** A plain copy of the ThrownRecord, when the serializer could not encode it. */
      record?: ThrownRecord;
    }
  | {
      /** The task's index in submission order. */
      index: number;
      /** The task did not return a value. */
      ok: false;
      /** Its arguments could not be rebuilt, or its result could not be encoded. */
      kind: 'serialization';
      /** What failed, where, and the remedy. */
      failure: WireSerializationFailure;
    };

export type ToWorker =
  | { type: 'batch'; batch: WireBatch }
  | { type: 'forget'; ids: string[] }
  /** A batch waiting in the worker's port was cancelled: skip it when its turn comes. */
  | { type: 'cancel'; batchId: number };

export type FromWorker =
  /** Sent once, when the runtime has loaded and listens: start-up time is not task time. */
  | { type: 'ready' }
  | ({ type: 'reply'; batchId: number } & WireReply)
  /**
   * A promise a task of an answered batch left rejected with no handler, noticed after the reply
   * went: the task's failure, for its run (a rejection noticed before the reply is in the reply).
   */
  | { type: 'rejection'; batchId: number; result: WireResult }
  /** The worker is about to die from an error outside any task. */
  | { type: 'fatal'; message: string }
  /** A by-reference value's message to its kind on the main side (a Counter's increment from a child process). */
  | { type: 'ref'; kind: string; body: unknown }
  /** A line for the main thread's stderr (a Counter's message), ahead of the batch's reply. */
  | { type: 'log'; text: string };
