import '../serialize/builtins.js';
import type { Backend } from '../backends/types.js';
import { getBackendFactory } from '../backends/registry.js';
import { getDefaultSerializer, getSerializer, serializerModule } from '../serialize/registry.js';
import { currentScope } from './config.js';
import { delayed, type Task } from './delayed.js';
import { effectiveNJobs } from './njobs.js';
import { parsePreDispatch, validateParallelOptions, type ParallelOptions, type ReturnAs } from './options.js';
import { TaskStream } from './taskStream.js';
import { parseBytes } from '../sharing/bytes.js';
import { trackHolder } from '../sharing/persisted.js';
import { describeValue } from './describe.js';

/** What `run()` gives back for each `returnAs`. */
export type RunResult<R extends ReturnAs, T> = R extends 'array' ? Promise<T[]> : AsyncGenerator<T, void, undefined>;

type Tasks<T> = Iterable<Task<T>> | AsyncIterable<Task<T>>;

/** The result type of a task, or the union of them for a list of different tasks. */
export type ResultOf<T> = T extends Task<infer R> ? R : never;

/**
 * Runs tasks made by `delayed` on a pool of workers (joblib's `Parallel`).
 * Options are validated and resolved once, here: an explicit option beats a
 * `parallelConfig` scope, which beats the default. The pool starts on the
 * first `run()`, is reused by the next ones, and ends with `close()` (or
 * `await using`); an idle pool never keeps the process alive.
 *
 * @example
 * const parallel = new Parallel({ nJobs: 2 });
 * const squares = await parallel.run([1, 2, 3].map((x) => delayed(square)(x)));
 * await parallel.close();
 */
export class Parallel<R extends ReturnAs = 'array'> {
  /** Workers this Parallel uses (nJobs resolved against the cores; 1 for 'inline'). */
  readonly nJobs: number;
  readonly backendName: string;
  readonly serializerName: string;
  readonly returnAs: R;
  private readonly preDispatch: number | string;
  private readonly timeout: number | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly maxNbytes: number | null;
  private readonly batchSize: 'auto' | number;
  private readonly perWorkerBufferSize: number;
  private backend: Backend | undefined;
  private untrack: (() => void) | undefined;

  constructor(options: ParallelOptions<R> = {}) {
    validateParallelOptions(options);
    const scope = currentScope();
    this.backendName = scope.disabled ? 'inline' : (options.backend ?? scope.backend ?? 'threads');
    this.nJobs = this.backendName === 'inline' ? 1 : effectiveNJobs(options.nJobs ?? scope.nJobs ?? -1);
    this.serializerName = options.serializer ?? scope.serializer ?? getDefaultSerializer();
    getSerializer(this.serializerName);
    this.preDispatch = options.preDispatch ?? scope.preDispatch ?? '2*nJobs';
    this.timeout = options.timeout ?? scope.timeout;
    this.returnAs = options.returnAs ?? ('array' as R);
    this.signal = options.signal;
    this.batchSize = options.batchSize ?? scope.batchSize ?? 'auto';
    this.perWorkerBufferSize = options.perWorkerBufferSize ?? scope.perWorkerBufferSize ?? 1;
    this.maxNbytes = parseBytes(options.maxNbytes !== undefined ? options.maxNbytes : scope.maxNbytes !== undefined ? scope.maxNbytes : '1M');
  }

  /**
   * Run the tasks. With returnAs 'array' (the default) resolves to their
   * results in submission order; with a generator mode returns an async
   * generator. The input is consumed lazily, a few tasks ahead of the workers.
   * The first error rejects and cancels the rest; the pool stays usable.
   */
  run<K extends Task<unknown>>(tasks: Iterable<K> | AsyncIterable<K>): RunResult<R, ResultOf<K>> {
    const start = () => this.startStream(tasks as Tasks<ResultOf<K>>);
    // A generator starts its work on the first next(): one that is never read, or closed
    // before it starts, runs nothing and holds nothing.
    const result = this.returnAs === 'array' ? collect(start) : iterate(start);
    return result as RunResult<R, ResultOf<K>>;
  }

  /** Shorthand for `run(map(items, (item) => delayed(fn)(item)))`, lazy on (async) iterables. */
  map<I, O>(fn: (item: I) => O, items: Iterable<I> | AsyncIterable<I>): RunResult<R, Awaited<O>> {
    return this.run(mapIterable(items, fn));
  }


  /** Stop the workers. Pending tasks reject with AbortError. A later `run()` starts a new pool. */
  async close(): Promise<void> {
    const backend = this.backend;
    this.backend = undefined;
    this.untrack?.();
    await backend?.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private startStream<T>(tasks: Tasks<T>): TaskStream<T> {
    if (!this.backend) {
      this.backend = getBackendFactory(this.backendName)({ nWorkers: this.nJobs, perWorkerBufferSize: this.perWorkerBufferSize });
      // Its workers may hold persisted values: a handle's close() tells them to drop theirs.
      this.untrack = trackHolder(this.backend);
    }
    return new TaskStream(tasks, {
      backend: this.backend,
      serializer: getSerializer(this.serializerName),
      serializerModule: serializerModule(this.serializerName),
      maxOutstanding: parsePreDispatch(this.preDispatch, this.nJobs),
      batchSize: this.batchSize,
      perWorkerBufferSize: this.perWorkerBufferSize,
      timeout: this.timeout,
      signal: this.signal,
      sharing: {
        sharedMemory: this.backend.capabilities.sharedMemory,
        maxNbytes: this.maxNbytes,
        sameThread: this.backend.capabilities.isolation === 'none',
      },
      // Only an ordered generator reads in submission order. 'array' reads completions and
      // places them by index, so a slow first task never holds the other workers back.
      order: this.returnAs === 'generator' ? 'submission' : 'completion',
    });
  }
}

async function collect<T>(start: () => TaskStream<T>): Promise<T[]> {
  // Inside the async function, so that bad input rejects the promise rather than throwing.
  const stream = start();
  // Results arrive out of order: an array of the right length takes them without reshaping.
  const results: T[] = stream.total === undefined ? [] : new Array<T>(stream.total);
  for (;;) {
    for (const { index, value } of stream.takeReady()) results[index] = value;
    const step = await stream.next();
    if (step.done) return results;
    results[step.value.index] = step.value.value;
  }
}

async function* iterate<T>(start: () => TaskStream<T>): AsyncGenerator<T, void, undefined> {
  const stream = start();
  try {
    for (;;) {
      const step = await stream.next();
      if (step.done) return;
      yield step.value.value;
    }
  } finally {
    // Reached on normal end, on error, and when the consumer breaks out of its loop.
    stream.cancel();
  }
}

/** `delayed(fn)(item)` for each item, lazily; bad arguments surface as the run's rejection, not a throw. */
function mapIterable<I, O>(items: Iterable<I> | AsyncIterable<I>, fn: (item: I) => O): Iterable<Task<Awaited<O>>> | AsyncIterable<Task<Awaited<O>>> {
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
