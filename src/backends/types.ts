import type { WireBatch, WireReply, WireResult } from '../runtime/protocol.js';

/** A batch's duration the automatic batch sizer aims at, in ms: it grows batches below `min`, halves them above `max`. */
export interface BatchDuration {
  /** Below this, batches grow (at most doubling). */
  min: number;
  /** The size a batch is set to when it changes. */
  target: number;
  /** Above this, batches shrink. */
  max: number;
}

/** What a backend can do, which joblet adapts to. */
export interface BackendCapabilities {
  /** Workers can see SharedArrayBuffers of the main thread without a copy. */
  sharedMemory: boolean;
  /** What a crash or a `process.exit()` in a task takes down: nothing else ('process'), the thread ('thread'), or everything ('none'). */
  isolation: 'none' | 'thread' | 'process';
  /**
   * Messages reach the workers through a structured clone (postMessage, child_process's
   * 'advanced' IPC): a batch may then carry plain `args` rather than `packed` bytes. A backend
   * that says so rejects such a batch with {@link TransportRefusedError} when its transport
   * refuses a value in them.
   */
  clonesMessages?: boolean;
  /**
   * The workers read this machine's temporary files (child processes): a large binary value's
   * kept copy reaches them through a file written once, which each worker reads once, rather
   * than through each worker's channel.
   */
  readsFiles?: boolean;
  /**
   * How long the automatic batch sizer aims each batch to take, in ms: short (10-50 ms, the
   * default) where a message to a worker costs microseconds, longer where a batch's trip costs
   * more (joblib's dask backend aims at 0.2-1 s).
   */
  batchDurationMs?: BatchDuration;
  /**
   * The workers may run on other machines: they share neither this process's memory nor its
   * files, so a by-reference value sends the value itself (the transport moves it once).
   */
  remote?: boolean;
}

/** What the run asks of one batch's submission. */
export interface BatchEvents {
  /** Called when a worker starts the batch (it may wait in a queue before); timeouts count from here. */
  onStart?(): void;
  /** Run it on an idle worker with nothing queued behind it: its clock must match its running time. */
  alone?: boolean;
  /**
   * Called after the batch was answered when one of its tasks turns out to have failed after all:
   * a promise it left rejected with no handler, noticed by its worker once the reply had gone.
   */
  onLateFailure?(result: WireResult): void;
  /**
   * The run's per-task `timeout` (the batch then holds one task). The run keeps its own clock from
   * `onStart`; a remote backend also has the worker enforce it, so a task past it is stopped there
   * even when the run is gone.
   */
  timeoutMs?: number;
}

/**
 * The transport refused to clone a batch's plain `args` (a symbol, say): the run submits the
 * same batch again with them serialized, which either travels or names the task and the path.
 * The backend never calls back into the run to do it.
 */
/** A cloning transport refused a batch's plain arguments; joblet then sends the batch serialized. */
export class TransportRefusedError extends Error {
  /** @param refusal What the transport threw. */
  constructor(readonly refusal: unknown) {
    super(`The transport refused to clone the batch's arguments: ${refusal instanceof Error ? refusal.message : String(refusal)}`);
    this.name = 'TransportRefusedError';
  }
}

/**
 * Where batches run. After joblib's `ParallelBackendBase`: a handful of
 * methods and capability flags. The orchestrator (`Parallel`) knows only
 * this interface, never which backend it drives.
 *
 * Contract:
 * - `submit` queues a batch and resolves with the worker's reply (one result
 *   per task, values packed in one buffer) once a worker answers. It rejects only when the batch did not complete: its
 *   worker died ({@link WorkerCrashedError}), it was cancelled (with the
 *   reason given to `cancel`), the backend was terminated, or its transport refused the
 *   batch's plain `args` ({@link TransportRefusedError}).
 * - Batches are started in submission order, at most one per worker.
 * - `defs` of a batch are delivered to a worker once; the backend may strip
 *   the defs a worker already has.
 * - An idle backend must not keep the process alive.
 */
/** Carries batches to workers and their replies back: the seam `registerBackend` adds to. */
export interface Backend {
  /** The name `backend: name` picks it by. */
  readonly name: string;
  /** How many batches run at once. */
  readonly nWorkers: number;
  /** What it can do. */
  readonly capabilities: BackendCapabilities;
  /** The most tasks one batch may hold, when the backend bounds it (a pool that replaces its workers after N tasks says N). */
  readonly maxBatchTasks?: number | undefined;
  /**
   * Called before each run's first batch, when present: a remote backend finds its workers here
   * (and may change `nWorkers`), or rejects, failing the run, when there are none.
   */
  prepare?(): Promise<void>;
  /**
   * Start the workers now, idle, without holding the process open (piscina's and tinypool's
   * minThreads): called at construction, so that their start-up overlaps what the program does
   * before its first run. A worker that fails to start is started again by the first batch, which
   * then reports why.
   */
  warmUp?(): void;
  /** Run a batch on a worker; resolves with the worker's reply. */
  submit(batch: WireBatch, events?: BatchEvents): Promise<WireReply>;
  /** Drop a queued batch, or stop a running one (its worker is terminated and later replaced); its promise rejects with `reason`. */
  cancel(batchId: number, reason: unknown): void;
  /** The main thread no longer needs these def ids: workers may drop them. */
  release(defIds: readonly string[]): void;
  /** Stop every worker; pending batches reject. The backend is unusable afterwards. */
  terminate(): Promise<void>;
}

/** What a backend factory is given. */
export interface BackendOptions {
  /** Number of workers wanted, already resolved from `nJobs` (at least 1). */
  nWorkers: number;
  /** Batches a worker may hold queued beyond the one it runs (0: one at a time). */
  perWorkerBufferSize?: number;
  /** The `nJobs` option as given (negative: counted back), for a backend whose workers are counted at run time. */
  nJobs?: number | undefined;
  /** The `backendOptions` option, for the backend to validate and read. */
  backendOptions?: unknown;
  /** Each worker's memory limits (the `resourceLimits` option); threads and processes apply them. */
  resourceLimits?: WorkerResourceLimits | undefined;
  /** Replace a worker once it has run this many tasks, between batches (the `maxTasksPerWorker` option). */
  maxTasksPerWorker?: number | undefined;
  /** Replace a worker, between batches, once its heap in use passes this many bytes (the `maxWorkerMemory` option). */
  maxWorkerMemory?: number | undefined;
}

/**
 * Memory limits of each worker, shaped as Node's `Worker` `resourceLimits` (and piscina's).
 * Worker threads take them as they are. A child process gets them as V8 flags in its `execArgv`:
 * `maxOldGenerationSizeMb` as `--max-old-space-size`, `maxYoungGenerationSizeMb` as
 * `--max-semi-space-size` (a third of it: V8's young generation is three semi-spaces), and
 * `stackSizeMb` as `--stack-size`; `codeRangeSizeMb` has no flag and applies to threads only.
 */
export interface WorkerResourceLimits {
  /** The most the main heap may grow to, in megabytes: past it the worker dies out of memory. */
  maxOldGenerationSizeMb?: number;
  /** The most the heap for newly made objects may take, in megabytes. */
  maxYoungGenerationSizeMb?: number;
  /** The memory reserved for generated code, in megabytes (threads only). */
  codeRangeSizeMb?: number;
  /**
   * The thread's stack, in megabytes (Node's default for a worker thread: 4). For a process it sets
   * how deep JavaScript may recurse, which must stay under the system's stack (`ulimit -s`, often 8 MB).
   */
  stackSizeMb?: number;
}

/** Makes a backend for one `Parallel`; registered with `registerBackend`. */
export type BackendFactory = (options: BackendOptions) => Backend;
