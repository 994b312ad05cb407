import { getBackendFactory, type BackendName } from '../backends/registry.js';
import { getSerializer, type SerializerName } from '../serialize/registry.js';
import { checkNJobs } from './njobs.js';
import { describeValue } from './describe.js';
import { parseBytes } from '../sharing/bytes.js';
import type { Progress, ProgressOptions } from './progress.js';
import type { SerializationError, TaskError, TimeoutError, WorkerCrashedError } from '../errors.js';
import type { WorkerResourceLimits } from '../backends/types.js';
import { validateWorkerLimits } from './workerLimits.js';

/**
 * How `run()` hands results back: 'array' (a promise of every result in
 * submission order), 'generator' (an async generator in submission order) or
 * 'generator_unordered' (an async generator, as tasks complete).
 */
export type ReturnAs = 'array' | 'generator' | 'generator_unordered';

/** Options that `parallelConfig` may set as scoped defaults; `new Parallel()` takes them too. */
export interface ConfigOptions {
  /**
   * Number of workers. Negative values count back from the number of cores:
   * -1 is all of them, -2 all but one (joblib's convention).
   * @default -1
   * @example new Parallel({ nJobs: -2 }) // every core but one
   */
  nJobs?: number;
  /**
   * Where tasks run: 'threads' (worker_threads), 'processes' (child_process),
   * 'inline' (the main thread, one at a time), or a name given to registerBackend().
   * @default 'threads'
   * @example new Parallel({ backend: 'processes' })
   */
  backend?: BackendName;
  /**
   * Options of the backend, read by it: for 'bullmq', `{ connection, queue, secret, secretFile, workerWaitMs }`
   * (see BullmqBackendOptions). joblib's `**backend_params`.
   * @default undefined
   * @example new Parallel({ backend: 'bullmq', backendOptions: { connection: 'redis://host:6379', secretFile: 'joblet.secret' } })
   */
  backendOptions?: object;
  /**
   * How tasks and results are encoded: 'auto' (structured clone for data, the
   * closure codec for functions and class instances), 'structured' (V8),
   * 'closure', 'json', 'devalue', 'javascript' (serialize-javascript), or a
   * name given to registerSerializer().
   * @default setDefaultSerializer(), else JOBLET_SERIALIZER, else 'auto'
   * @example new Parallel({ serializer: 'devalue' })
   */
  serializer?: SerializerName;
  /**
   * How many tasks are taken from the input ahead of the workers: a number,
   * 'all', or an expression of nJobs such as '3*nJobs'. Bounds memory when
   * the input is a large or endless (async) iterable. It counts tasks taken
   * and not yet handed over: with returnAs 'generator' (ordered) a slow task
   * holds back those after it until it finishes, which bounds memory but can
   * leave workers idle; 'array' and 'generator_unordered' keep dispatching.
   * @default '2*nJobs'
   * @example new Parallel({ preDispatch: '4*nJobs' })
   */
  preDispatch?: number | string;
  /**
   * Longest time a task may run, in milliseconds, counted from the moment a
   * worker starts it (as seen from the main thread: the message to the
   * worker and the first compile of the function count too, so allow tens of
   * milliseconds). A task over time fails the run with a TimeoutError and its
   * worker is replaced. Tasks then go one per message.
   * @default undefined (no limit)
   * @example new Parallel({ timeout: 30_000 })
   */
  timeout?: number;
  /**
   * Arguments larger than this are shared for the run instead of copied with
   * every task: sent to each worker once, released when the run ends.
   * Bytes, or a string like '10M'; null turns it off (joblib's max_nbytes).
   * Looks at each task's top-level arguments, estimated without a walk. A typed array,
   * DataView or ArrayBuffer over it is copied once to memory the Parallel keeps (shared
   * memory on threads: no copy per worker), reused by later runs while its bytes are unchanged;
   * so is a top-level plain Array of numbers, as its numbers (rebuilt as an Array in each worker).
   * @default '1M'
   * @example new Parallel({ maxNbytes: '10M' })
   */
  maxNbytes?: number | string | null;
  /**
   * Tasks per message to a worker. 'auto' starts at one and adapts so that a
   * batch takes about 20 ms (joblib's auto batching, fitted to a message cost
   * of about 50 microseconds; on 'bullmq', where a batch is a job on Redis,
   * about 0.5 s), with smaller batches at the end of a run. The next run of
   * the same task function on the same Parallel starts at the size the last
   * one reached (as joblib keeps it across the calls of a managed Parallel);
   * close() forgets it.
   * A per-task `timeout` (even with a number here) and the inline backend
   * send one task at a time.
   * @default 'auto'
   * @example new Parallel({ batchSize: 64 })
   */
  batchSize?: 'auto' | number;
  /**
   * Batches that may wait queued for each worker beyond the one it runs
   * (grain's per_worker_buffer_size): with preDispatch, it bounds the tasks
   * and results in flight. Larger keeps workers busier when batches vary.
   * @default 1
   * @example new Parallel({ perWorkerBufferSize: 2 })
   */
  perWorkerBufferSize?: number;
  /**
   * joblib's verbosity: above 0, lines on stderr such as
   * `[Parallel(nJobs=2)]: Done 40 of 100 | elapsed: 1.2s | remaining: 1.8s`,
   * more of them the higher it is; above 10, one after every batch.
   * @default 0
   * @example new Parallel({ verbose: 5 })
   */
  verbose?: number;
  /**
   * Memory limits of each worker, as Node's Worker and piscina name them: `maxOldGenerationSizeMb`
   * (the heap), `maxYoungGenerationSizeMb`, `codeRangeSizeMb`, `stackSizeMb`. Threads take them as
   * they are; a process gets them as V8 flags (`--max-old-space-size`, `--max-semi-space-size`,
   * `--stack-size`; `codeRangeSizeMb` applies to threads only). A worker that runs out fails its
   * tasks with a WorkerCrashedError whose `outOfMemory` is true and `memoryLimitMb` the limit; the
   * main process goes on and the worker is replaced. Threads and processes backends.
   * @default undefined (V8's defaults)
   * @example new Parallel({ resourceLimits: { maxOldGenerationSizeMb: 512 } })
   */
  resourceLimits?: WorkerResourceLimits;
  /**
   * Replace a worker once it has run this many tasks (mpire's `worker_lifespan`, loky's guard
   * against leaks): between batches, never during one, with no task lost or run twice. Batches
   * are kept to this size at most, and a worker is not sent a batch that would take it past it.
   * Threads and processes backends.
   * @default undefined (workers live as long as the pool)
   * @example new Parallel({ maxTasksPerWorker: 1000 })
   */
  maxTasksPerWorker?: number;
  /**
   * Replace a worker, between batches, once its heap in use after a batch (V8's used heap plus
   * external memory such as ArrayBuffers, its own isolate's) passes this: bytes, or a string like
   * '512M' (tinypool's `maxMemoryLimitBeforeRecycle`). Garbage not yet collected counts, so leave
   * room; the batches it already holds finish first. null turns it off. Threads and processes backends.
   * @default undefined (no limit)
   * @example new Parallel({ maxWorkerMemory: '512M' })
   */
  maxWorkerMemory?: number | string | null;
  /**
   * Let runs go on past failures (see `settle` of {@link ParallelOptions}): in a `parallelConfig`
   * scope, every Parallel constructed without its own `settle` yields {@link Settled} entries.
   * TypeScript types a Parallel's results by its own option only: one made in such a scope without
   * it is typed as returning bare values, so state it there (`new Parallel({ settle: true })`) or
   * pass `{ settle: true }` to the run, where the types must follow.
   * @default false
   * @example await parallelConfig({ settle: true }, () => nightlyJob())
   */
  settle?: boolean;
}

/** What a task's failure is, as a settled run reports it: the task threw, its worker died, it ran over time, or it could not travel. */
export type TaskFailure = TaskError | WorkerCrashedError | TimeoutError | SerializationError;

/**
 * One task's outcome in a settled run (`settle: true`), shaped as `Promise.allSettled`'s entries,
 * with the task's index in submission order: `{ status: 'fulfilled', value, index }` or
 * `{ status: 'rejected', reason, index }`, the reason naming the task as a failed run's error would.
 */
export type Settled<T> =
  | {
      /** The task returned. */
      status: 'fulfilled';
      /** What it returned. */
      value: T;
      /** The task's index in submission order. */
      index: number;
    }
  | {
      /** The task failed. */
      status: 'rejected';
      /** Why: a TaskError, WorkerCrashedError, TimeoutError or SerializationError. */
      reason: TaskFailure;
      /** The task's index in submission order. */
      index: number;
    };

/** What one task yields: its value, or with `settle: true` its {@link Settled} entry. */
export type Shaped<S extends boolean, T> = S extends true ? Settled<T> : T;

/** Options of `new Parallel()`: the scoped ones of {@link ConfigOptions}, and those of one pool. */
export interface ParallelOptions<R extends ReturnAs = ReturnAs, S extends boolean = boolean> extends ConfigOptions {
  /**
   * Let the run go on past failures: every task yields a {@link Settled} entry, its value or its
   * own error (a TaskError, a WorkerCrashedError, a TimeoutError, a SerializationError), and the run
   * finishes; 'array' resolves to them in submission order, 'generator' yields them in submission
   * order and 'generator_unordered' as they complete (each with its `index`). A crashed worker is
   * replaced; the task it was running, and those of its batch that had finished (their results died
   * with it), are reported, not retried; those of its batch it had not started run on another
   * worker (see WorkerCrashedError's `notStarted`). Only an abort (a signal, a
   * generator left early, `close()`) or a failing input still rejects the whole run.
   * Without it (joblib's behaviour), the first failure cancels the rest and rejects the run.
   * `run(tasks, { settle })` overrides it for one call.
   * @default false
   * @example
   * const entries = await new Parallel({ settle: true }).map(parse, files)
   * const failed = entries.filter((e) => e.status === 'rejected')
   */
  settle?: S;
  /**
   * A function run once in each worker before its first task (concurrent.futures' `initializer`,
   * mpire's `worker_state`): open a database connection, load a model. What it returns (awaited)
   * stays in that worker, and a task reads it with `workerState()`. It travels as a task function
   * does (its source, or with the closure codec what it captures) and is sent to each worker once.
   * A worker that replaces one that died runs it again; on the inline backend it runs once per
   * Parallel. If it throws, the tasks that were to follow fail with an InitializerError (phase
   * 'initializer', the worker's stack), and the next batch tries it again. Its time counts in the
   * first task's `timeout`. `run(tasks, { initializer })` gives one call its own.
   * @default undefined
   * @example
   * const parallel = new Parallel({ initializer: async () => ({ db: await connect(url) }) });
   * await parallel.map((id: number) => workerState<{ db: Db }>().db.get(id), ids);
   */
  initializer?: () => unknown;
  /**
   * Start the workers when the Parallel is made (piscina's and tinypool's `minThreads`), so that
   * their start overlaps what the program does before its first run; idle workers do not keep the
   * process alive. A started worker imports its serializers while it waits for a batch, and once
   * the program's code yields this thread readies the encoding of task functions (the closure
   * codec: about 0.1 s, once per process), unless a run came first.
   * false starts each one when a batch first needs it (joblib's way), and a `close()`d
   * Parallel starts its next pool that way too. Threads and processes backends; a remote backend's
   * workers are its own.
   * @default true
   * @example new Parallel({ prestart: false })
   */
  prestart?: boolean;
  /**
   * 'array': `run()` resolves to every result in submission order.
   * 'generator': `run()` returns an async generator yielding results in
   * submission order; 'generator_unordered' yields them as they complete.
   * Leaving a generator's loop early cancels the tasks still pending.
   * @default 'array'
   * @example for await (const r of new Parallel({ returnAs: 'generator_unordered' }).run(tasks)) use(r)
   */
  returnAs?: R;
  /**
   * Aborting it rejects `run()` with `signal.reason`, stops running tasks, and never starts queued ones.
   * @default undefined (runs until done or closed)
   * @example new Parallel({ signal: AbortSignal.timeout(60_000) })
   */
  signal?: AbortSignal;
  /**
   * A progress bar on stderr: done and total (when known), rate, elapsed and time left.
   * Drawn only when stderr is a terminal, unless `{ force: true }`; `{ stream }` draws elsewhere.
   * @default false
   * @example new Parallel({ progress: true })
   */
  progress?: boolean | ProgressOptions;
  /**
   * Called after each batch and once at the end with `{ done, total, failed, elapsedMs, etaMs }`.
   * @default undefined
   * @example new Parallel({ onProgress: ({ done, total }) => console.log(`${done}/${total}`) })
   */
  onProgress?: (progress: Progress) => void;
  /**
   * Record per-phase times (serialize, queue wait, run, deserialize), bytes and per-worker
   * utilization for `parallel.stats()` (grain's enable_profiling). Costs a clock read per task.
   * @default false
   * @example new Parallel({ enableProfiling: true })
   */
  enableProfiling?: boolean;
}

/** Options of one `run()` or `map()` call (p-map's convention): what belongs to the call, not the pool. */
export interface RunOptions<S extends boolean = boolean> {
  /**
   * Aborting it stops this call alone: `run()` rejects with `signal.reason`, its running tasks are
   * stopped and its queued ones never start; the pool and other calls go on. With a signal on the
   * Parallel too, the call stops when either aborts, with the reason of the one that did.
   * @default undefined
   * @example await parallel.map(fetchPage, urls, { signal: AbortSignal.timeout(10_000) })
   */
  signal?: AbortSignal;
  /**
   * This call goes on past failures and yields a {@link Settled} entry per task (see the Parallel
   * option `settle`), or, with `false`, stops at the first failure, whatever the Parallel says.
   * @default the Parallel's `settle` (false)
   * @example const entries = await parallel.map(fetchPage, urls, { settle: true })
   */
  settle?: S;
  /**
   * This call's initializer, instead of the Parallel's (see the Parallel option `initializer`).
   * Each different initializer runs once per worker; its state is kept by its identity (the hash
   * of what travels), so calls that pass the same one share it.
   * @default the Parallel's `initializer`
   * @example await parallel.map(lookup, ids, { initializer: () => ({ cache: new Map() }) })
   */
  initializer?: () => unknown;
}

const RUN_KEYS = ['signal', 'settle', 'initializer'] as const;

/** Throws a TypeError for an unknown key (with a guess) or a signal that is not one. */
export function validateRunOptions(options: RunOptions, where: string): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${where} expects an options object, got ${describeValue(options)}`);
  checkKeys(options, RUN_KEYS, where);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describeValue(options.signal)}`);
  }
  checkInitializer(options.initializer);
}

function checkInitializer(initializer: unknown): void {
  if (initializer !== undefined && typeof initializer !== 'function') {
    throw new TypeError(`Expected \`initializer\` to be a function run once per worker, got ${describeValue(initializer)}`);
  }
}

function checkSettle(settle: unknown): void {
  if (settle !== undefined && typeof settle !== 'boolean') throw new TypeError(`Expected \`settle\` to be a boolean, got ${describeValue(settle)}`);
}

const CONFIG_KEYS = [
  'nJobs',
  'backend',
  'backendOptions',
  'serializer',
  'preDispatch',
  'timeout',
  'maxNbytes',
  'batchSize',
  'perWorkerBufferSize',
  'verbose',
  'resourceLimits',
  'maxTasksPerWorker',
  'maxWorkerMemory',
  'settle',
] as const;
const PARALLEL_KEYS = [...CONFIG_KEYS, 'returnAs', 'signal', 'progress', 'onProgress', 'enableProfiling', 'initializer', 'prestart'] as const;
const RETURN_AS: readonly ReturnAs[] = ['array', 'generator', 'generator_unordered'];
const PRE_DISPATCH = /^\s*(?:(\d+(?:\.\d+)?)\s*\*\s*)?nJobs\s*$/;

function checkKeys(options: object, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const near = allowed.find((k) => k.toLowerCase() === key.toLowerCase().replace(/_/g, ''));
      throw new TypeError(`Unknown option \`${key}\` for ${where}${near ? `; did you mean \`${near}\`?` : `. Known options: ${allowed.join(', ')}`}`);
    }
  }
}

/** Validate the options `parallelConfig` accepts; throws TypeError or RangeError naming the option and the value. */
export function validateConfigOptions(options: ConfigOptions, where: string, keys: readonly string[] = CONFIG_KEYS): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where} expects an options object, got ${describeValue(options)}`);
  checkKeys(options, keys, where);
  const { nJobs, backend, serializer, preDispatch, timeout, maxNbytes, batchSize, perWorkerBufferSize, verbose } = options;
  if (verbose !== undefined && !(typeof verbose === 'number' && verbose >= 0 && Number.isFinite(verbose))) {
    throw new (typeof verbose === 'number' ? RangeError : TypeError)(`Expected \`verbose\` to be a number of 0 or more, got ${describeValue(verbose)}`);
  }
  if (perWorkerBufferSize !== undefined && !(Number.isInteger(perWorkerBufferSize) && perWorkerBufferSize >= 0)) {
    throw new (typeof perWorkerBufferSize === 'number' ? RangeError : TypeError)(
      `Expected \`perWorkerBufferSize\` to be a non-negative integer, got ${describeValue(perWorkerBufferSize)}`,
    );
  }
  if (maxNbytes !== undefined) parseBytes(maxNbytes);
  validateWorkerLimits(options);
  if (batchSize !== undefined && batchSize !== 'auto' && !(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new (typeof batchSize === 'number' ? RangeError : TypeError)(`Expected \`batchSize\` to be 'auto' or a positive integer, got ${describeValue(batchSize)}`);
  }
  if (nJobs !== undefined) checkNJobs(nJobs);
  if (options.backendOptions !== undefined && (typeof options.backendOptions !== 'object' || options.backendOptions === null)) {
    throw new TypeError(`Expected \`backendOptions\` to be an object, got ${describeValue(options.backendOptions)}`);
  }
  if (backend !== undefined) {
    if (typeof backend !== 'string') throw new TypeError(`Expected \`backend\` to be a backend name, got ${describeValue(backend)}`);
    getBackendFactory(backend);
  }
  if (serializer !== undefined) {
    if (typeof serializer !== 'string') throw new TypeError(`Expected \`serializer\` to be a serializer name, got ${describeValue(serializer)}`);
    getSerializer(serializer);
  }
  if (preDispatch !== undefined) parsePreDispatch(preDispatch, 1);
  checkSettle(options.settle);
  if (timeout !== undefined) {
    if (typeof timeout !== 'number') throw new TypeError(`Expected \`timeout\` to be a number of milliseconds, got ${describeValue(timeout)}`);
    if (!(timeout > 0)) throw new RangeError(`Expected \`timeout\` to be a positive number of milliseconds (or Infinity), got ${describeValue(timeout)}`);
  }
}

export function validateParallelOptions(options: ParallelOptions): void {
  validateConfigOptions(options, 'new Parallel()', PARALLEL_KEYS);
  const { returnAs, signal, progress, onProgress, enableProfiling, prestart } = options;
  if (progress !== undefined && typeof progress !== 'boolean' && (typeof progress !== 'object' || progress === null)) {
    throw new TypeError(`Expected \`progress\` to be true, false or { stream, force }, got ${describeValue(progress)}`);
  }
  if (typeof progress === 'object' && progress.stream !== undefined && typeof progress.stream?.write !== 'function') {
    throw new TypeError(`Expected \`progress.stream\` to be a writable stream, got ${describeValue(progress.stream)}`);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`Expected \`onProgress\` to be a function, got ${describeValue(onProgress)}`);
  if (enableProfiling !== undefined && typeof enableProfiling !== 'boolean') {
    throw new TypeError(`Expected \`enableProfiling\` to be a boolean, got ${describeValue(enableProfiling)}`);
  }
  if (prestart !== undefined && typeof prestart !== 'boolean') throw new TypeError(`Expected \`prestart\` to be a boolean, got ${describeValue(prestart)}`);
  if (returnAs !== undefined && !RETURN_AS.includes(returnAs)) {
    throw new RangeError(`Expected \`returnAs\` to be one of ${RETURN_AS.map((r) => `'${r}'`).join(', ')}, got ${describeValue(returnAs)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describeValue(signal)}`);
  }
  checkInitializer(options.initializer);
}

/** Tasks allowed in flight for `nWorkers` workers; Infinity for 'all'. */
export function parsePreDispatch(value: number | string, nWorkers: number): number {
  if (value === 'all') return Infinity;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`Expected \`preDispatch\` to be a positive integer, 'all' or an expression like '2*nJobs', got ${describeValue(value)}`);
    return value;
  }
  const match = typeof value === 'string' ? PRE_DISPATCH.exec(value) : null;
  if (!match) throw new TypeError(`Expected \`preDispatch\` to be a positive integer, 'all' or an expression like '2*nJobs', got ${describeValue(value)}`);
  return Math.max(1, Math.ceil(Number(match[1] ?? 1) * nWorkers));
}
