import '../serialize/builtins/index.js';
import type { Backend } from '../backends/types.js';
import { getBackendFactory } from '../backends/registry.js';
import { getDefaultSerializer, getSerializer, serializerModule } from '../serialize/registry.js';
import { currentScope } from './config.js';
import { delayed, iteratesAsArray, MappedArray, type Task } from './delayed.js';
import { effectiveNJobs } from './njobs.js';
import { parsePreDispatch, validateParallelOptions, validateRunOptions, type ParallelOptions, type ReturnAs, type RunOptions, type Shaped } from './options.js';
import { RunScheduler } from './runScheduler.js';
import { warmUpEncoding } from './taskEncoder.js';
import type { LearnedBatch } from './batching.js';
import { collectAll, inCompletionOrder, inSubmissionOrder } from './delivery.js';
import { parseBytes } from '../sharing/bytes.js';
import { trackHolder } from '../sharing/persisted.js';
import { describeValue } from './describe.js';
import { combineObservers, type RunObserver } from './observer.js';
import { ProgressTracker, progressBar, verboseLog } from './progress.js';
import { Profiler, type ParallelStats } from './profiler.js';
import { resolveWorkerLimits, type WorkerLimits } from './workerLimits.js';
import { SharedCopies } from '../sharing/sharedCopies.js';

/** What `run()` gives back for each `returnAs`. */
export type RunResult<R extends ReturnAs, T> = R extends 'array' ? Promise<T[]> : AsyncGenerator<T, void, undefined>;

type Tasks<T> = Iterable<Task<T>> | AsyncIterable<Task<T>>;

/** The result type of a task, or the union of them for a list of different tasks. */
export type ResultOf<T> = T extends Task<infer R> ? R : never;

/**
 * A Parallel dropped without close() (made and never run, or run and forgotten) takes its
 * workers with it when it is collected: they would otherwise live as long as the process (a
 * handle's tracker holds the pool). A run going keeps its Parallel reachable (RunPlan.owner).
 */
const dropped = new FinalizationRegistry<{ backend: Backend; untrack: () => void; copies: SharedCopies | undefined }>((held) => {
  held.copies?.dispose();
  held.untrack();
  void held.backend.terminate().catch(() => {});
});

/**
 * Runs tasks made by `delayed` on a pool of workers (joblib's `Parallel`).
 * Options are validated and resolved once, here: an explicit option beats a
 * `parallelConfig` scope, which beats the default. The pool starts when the
 * Parallel is made (threads, processes; `prestart: false`, or another backend:
 * on the first `run()`), is reused by the next runs, and ends with `close()`
 * (or `await using`), or when the Parallel is garbage-collected with no run
 * going; an idle pool never keeps the process alive.
 *
 * @example
 * const parallel = new Parallel({ nJobs: 2 });
 * const squares = await parallel.run([1, 2, 3].map((x) => delayed(square)(x)));
 * await parallel.close();
 */
export class Parallel<R extends ReturnAs = 'array', S extends boolean = false> {
  /** Workers this Parallel uses (nJobs resolved against the cores; 1 for 'inline'). */
  readonly nJobs: number;
  /** The backend tasks run on: the `backend` option, else the scope's, else 'threads' ('inline' inside noParallel()). */
  readonly backendName: string;
  /** The serializer tasks and results travel with: the `serializer` option, else the scope's, else the default. */
  readonly serializerName: string;
  /** How `run()` hands results back (the `returnAs` option). */
  readonly returnAs: R;
  /** preDispatch resolved against nJobs, once: tasks allowed in flight. */
  private readonly maxOutstanding: number;
  private readonly timeout: number | undefined;
  private readonly settle: boolean;
  private readonly signal: AbortSignal | undefined;
  private readonly maxNbytes: number | null;
  private readonly batchSize: 'auto' | number;
  private readonly perWorkerBufferSize: number;
  /** Batch sizes learned by its runs, by task function: the next run of a function starts there, not at one task. */
  private batchMemory = new WeakMap<Function, LearnedBatch>();
  private readonly verbose: number;
  private readonly progress: ParallelOptions['progress'];
  private readonly onProgress: ParallelOptions['onProgress'];
  private readonly profiler: Profiler | undefined;
  private readonly requestedNJobs: number | undefined;
  private readonly backendOptions: object | undefined;
  private readonly preDispatch: number | string;
  private readonly workerLimits: WorkerLimits;
  private readonly initializer: (() => unknown) | undefined;
  private backend: Backend | undefined;
  /** Copies of the large binary arguments of its runs, kept across runs for the backend's workers (sharing/sharedCopies.ts). */
  private copies: SharedCopies | undefined;
  private untrack: (() => void) | undefined;

  constructor(options: ParallelOptions<R, S> = {}) {
    validateParallelOptions(options);
    const scope = currentScope();
    this.backendName = scope.disabled ? 'inline' : (options.backend ?? scope.backend ?? 'threads');
    this.nJobs = this.backendName === 'inline' ? 1 : effectiveNJobs(options.nJobs ?? scope.nJobs ?? -1);
    this.serializerName = options.serializer ?? scope.serializer ?? getDefaultSerializer();
    getSerializer(this.serializerName);
    this.requestedNJobs = options.nJobs ?? scope.nJobs;
    this.backendOptions = options.backendOptions ?? scope.backendOptions;
    this.preDispatch = options.preDispatch ?? scope.preDispatch ?? '2*nJobs';
    this.maxOutstanding = parsePreDispatch(this.preDispatch, this.nJobs);
    this.timeout = options.timeout ?? scope.timeout;
    this.returnAs = options.returnAs ?? ('array' as R);
    this.signal = options.signal;
    this.settle = options.settle ?? scope.settle ?? false;
    this.initializer = options.initializer;
    this.batchSize = options.batchSize ?? scope.batchSize ?? 'auto';
    this.perWorkerBufferSize = options.perWorkerBufferSize ?? scope.perWorkerBufferSize ?? 1;
    this.verbose = options.verbose ?? scope.verbose ?? 0;
    this.progress = options.progress;
    this.onProgress = options.onProgress;
    this.profiler = options.enableProfiling ? new Profiler() : undefined;
    this.workerLimits = resolveWorkerLimits(options, scope);
    this.maxNbytes = parseBytes(options.maxNbytes !== undefined ? options.maxNbytes : scope.maxNbytes !== undefined ? scope.maxNbytes : '1M');
    // The workers start now, as piscina's do, while the program goes on to build its tasks: a
    // thread takes tens of milliseconds to load joblet's runtime, which the first run would wait for.
    // Only the built-in pools: a remote or registered backend is made (and may refuse) at the first run, as before.
    if ((options.prestart ?? true) && (this.backendName === 'threads' || this.backendName === 'processes')) {
      (this.backend = this.openBackend()).warmUp?.();
      // And this thread readies the encoding of task functions once the caller's code yields, unless a run came first.
      const serializer = getSerializer(this.serializerName);
      setTimeout(() => warmUpEncoding(serializer), 0).unref();
    }
  }

  /**
   * Run the tasks. With returnAs 'array' (the default) resolves to their
   * results in submission order; with a generator mode returns an async
   * generator. The input is consumed lazily, a few tasks ahead of the workers.
   * The first error rejects and cancels the rest; the pool stays usable. With `settle: true` (on the
   * Parallel or in `options`) every task yields a `Settled` entry instead and the run finishes.
   */
  run<K extends Task<unknown>, S2 extends boolean = S>(tasks: Iterable<K> | AsyncIterable<K>, options: RunOptions<S2> = {}): RunResult<R, Shaped<S2, ResultOf<K>>> {
    const open = () => {
      // Bad options reject the run (or throw from the generator's first next()), as bad tasks do.
      validateRunOptions(options, 'run()');
      return this.openRun(tasks as Tasks<ResultOf<K>>, options.signal, options.settle ?? this.settle, options.initializer ?? this.initializer);
    };
    // A generator starts its work on the first next(): one that is never read, or closed
    // before it starts, runs nothing and holds nothing.
    const result = this.returnAs === 'array' ? collectAll(open) : this.returnAs === 'generator' ? inSubmissionOrder(open) : inCompletionOrder(open);
    return result as RunResult<R, Shaped<S2, ResultOf<K>>>;
  }

  /**
   * Shorthand for `run(map(items, (item) => delayed(fn)(item)))`, lazy on (async) iterables.
   * @example const lengths = await parallel.map((s: string) => s.length, ['a', 'bb'])
   */
  map<I, O, S2 extends boolean = S>(fn: (item: I) => O, items: Iterable<I> | AsyncIterable<I>, options: RunOptions<S2> = {}): RunResult<R, Shaped<S2, Awaited<O>>> {
    return this.run<Task<Awaited<O>>, S2>(mapIterable(items, fn), options);
  }


  /**
   * Per-phase times, bytes and per-worker utilization of every run so far, with `enableProfiling: true`.
   * Throws without it: there is nothing recorded to return.
   */
  stats(): ParallelStats {
    if (!this.profiler) throw new Error('stats() needs profiling: create the Parallel with { enableProfiling: true }.');
    return this.profiler.stats();
  }

  /** Start the profile afresh (with `enableProfiling: true`). */
  resetStats(): void {
    this.profiler?.reset();
  }

  /** Stop the workers. Pending tasks reject with AbortError. A later `run()` starts a new pool. */
  async close(): Promise<void> {
    const backend = this.backend;
    this.backend = undefined;
    // The copies of the last run's large arguments go with the workers that read them: a closed
    // Parallel kept for a later run would hold them (tens of MB each) until that run.
    this.copies?.dispose();
    this.copies = undefined;
    // A later run starts a new pool, and learns afresh (joblib resets its batch statistics with its pool).
    this.batchMemory = new WeakMap();
    this.untrack?.();
    dropped.unregister(this);
    await backend?.terminate();
  }

  /** `close()`, for `await using parallel = new Parallel()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private openBackend(): Backend {
    const backend = getBackendFactory(this.backendName)({
      nWorkers: this.nJobs,
      perWorkerBufferSize: this.perWorkerBufferSize,
      nJobs: this.requestedNJobs,
      backendOptions: this.backendOptions,
      ...this.workerLimits,
    });
    // Inline tasks read the value itself: nothing to copy.
    const { isolation, sharedMemory, readsFiles } = backend.capabilities;
    this.copies = isolation === 'none' ? undefined : new SharedCopies(sharedMemory ? 'shared' : readsFiles ? 'file' : 'buffer');
    // Its workers may hold persisted values: a handle's close() tells them to drop theirs.
    const untrack = (this.untrack = trackHolder(backend));
    dropped.register(this, { backend, untrack, copies: this.copies }, this);
    return backend;
  }

  private openRun<T>(
    tasks: Tasks<T>,
    runSignal: AbortSignal | undefined,
    settle: boolean,
    initializer: (() => unknown) | undefined,
  ): RunScheduler<T> {
    this.backend ??= this.openBackend();
    return new RunScheduler(tasks, {
      owner: this,
      backend: this.backend,
      serializer: getSerializer(this.serializerName),
      serializerModule: serializerModule(this.serializerName),
      maxOutstanding: this.maxOutstanding,
      // A backend that counts its workers at run time (prepare) resolves preDispatch against them.
      windowFor: (nWorkers: number) => parsePreDispatch(this.preDispatch, nWorkers),
      batchSize: this.batchSize,
      perWorkerBufferSize: this.perWorkerBufferSize,
      timeout: this.timeout,
      settle,
      // Either signal stops the run; the Parallel's own, once aborted, stops every later run too.
      signal: this.signal && runSignal ? AbortSignal.any([this.signal, runSignal]) : (runSignal ?? this.signal),
      sharing: {
        sharedMemory: this.backend.capabilities.sharedMemory,
        maxNbytes: this.maxNbytes,
        sameThread: this.backend.capabilities.isolation === 'none',
        remote: this.backend.capabilities.remote === true,
        copies: this.copies,
      },
      observer: this.observer(),
      initializer,
      batchMemory: this.batchMemory,
    });
  }

  /** Who watches this run: the progress bar, the verbose log, onProgress, the profiler (none by default: no cost). */
  private observer(): RunObserver | undefined {
    if (!this.verbose && !this.progress && !this.onProgress && !this.profiler) return undefined;
    const listeners = [];
    const prefix = `Parallel(nJobs=${this.nJobs})`;
    if (this.verbose > 0) {
      const write = (line: string) => void process.stderr.write(line);
      write(`[${prefix}]: Using backend ${this.backendName} with ${this.nJobs} worker${this.nJobs === 1 ? '' : 's'}, serializer ${this.serializerName}, batchSize ${this.batchSize}\n`);
      listeners.push(verboseLog(this.verbose, prefix, write));
    }
    if (this.progress) {
      const bar = progressBar(this.progress === true ? {} : this.progress);
      if (bar) listeners.push(bar);
    }
    const onProgress = this.onProgress;
    if (onProgress) {
      // After each batch, and once more at the end only if the end changed something (a failure, say).
      let told: Parameters<typeof onProgress>[0] | undefined;
      listeners.push((progress: Parameters<typeof onProgress>[0], final: boolean) => {
        if (final && told && told.done === progress.done && told.failed === progress.failed && told.total === progress.total) return;
        told = progress;
        onProgress(progress);
      });
    }
    return combineObservers([listeners.length ? new ProgressTracker(listeners) : undefined, this.profiler?.observe()]);
  }
}

/** `delayed(fn)(item)` for each item, lazily; bad arguments surface as the run's rejection, not a throw. */
function mapIterable<I, O>(items: Iterable<I> | AsyncIterable<I>, fn: (item: I) => O): Iterable<Task<Awaited<O>>> | AsyncIterable<Task<Awaited<O>>> {
  // An Array: read by index, no Task per item. A fn that is not a function takes the path below, whose delayed() refuses it.
  if (typeof fn === 'function' && iteratesAsArray(items)) return new MappedArray(fn, items) as Iterable<Task<Awaited<O>>>;
  if (items !== null && typeof items === 'object' && Symbol.asyncIterator in items) {
    return (async function* () {
      const call = delayed(fn);
      for await (const item of items) yield call(item);
    })();
  }
  return (function* () {
    const call = delayed(fn);
    if (items === null || typeof (items as Iterable<I> | undefined)?.[Symbol.iterator] !== 'function') {
      throw new TypeError(`map(fn, items) expects an iterable or async iterable as items, got ${describeValue(items)}`);
    }
    for (const item of items as Iterable<I>) yield call(item);
  })();
}
