import { AbortError, addRunStack, JobletError, TimeoutError, WorkerCrashedError } from '../errors.js';
import type { Serializer } from '../serialize/types.js';
import { TransportRefusedError, type Backend, type BatchEvents } from '../backends/types.js';
import type { WireBatch, WireReply, WireResult } from '../runtime/protocol.js';
import { AutoBatchSizer, type LearnedBatch } from './batching.js';
import { BatchWire, batchBytes, replyFacts, type ResultSink } from './batchWire.js';
import { isTask, iteratesAsArray, MappedArray, slicesPlainly, toSoleArguments, type Task } from './delayed.js';
import { describeValue } from './describe.js';
import { Formed, TaskEncoder, type SharingPlan } from './taskEncoder.js';
import type { RunObserver } from './observer.js';

export interface RunPlan {
  /** What started the run (its Parallel): held so that it is not collected, and its pool stopped, while the run goes. */
  owner?: object | undefined;
  backend: Backend;
  serializer: Serializer;
  serializerModule: string | undefined;
  /** Batches' worth of tasks taken from the input and not yet handed to the consumer (joblib's pre_dispatch). */
  maxOutstanding: number;
  /** preDispatch resolved against a number of workers: used after a backend's prepare() counted them. */
  windowFor?: ((nWorkers: number) => number) | undefined;
  /** 'auto' (adaptive), or a fixed number of tasks per message. */
  batchSize: 'auto' | number;
  /** Batches that may wait queued for each worker beyond the one it runs (grain's per_worker_buffer_size). */
  perWorkerBufferSize: number;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  /** Go on past failures: each task's failure becomes its rejected entry instead of failing the run. */
  settle?: boolean | undefined;
  sharing: SharingPlan;
  /** Progress, verbose lines, profiling: told of each batch. */
  observer?: RunObserver | undefined;
  /** Run once per worker before its first task; tasks read its result with workerState(). */
  initializer?: (() => unknown) | undefined;
  /** The batch sizes learned by earlier runs of the Parallel, by task function: a run of the same function starts from there. */
  batchMemory?: WeakMap<Function, LearnedBatch> | undefined;
}

/** Where a run's results go (delivery.ts): an array, or a generator in submission or completion order. */
export interface Delivery<T> extends ResultSink<T> {
  /** A result counts as handed to the consumer when it lands (an array), not when the consumer takes it. */
  readonly takesOnArrival: boolean;
  /** The run changed: results landed, it failed, or it finished. */
  changed(): void;
}

/** A batch sent and not yet answered. */
interface InFlight {
  batch: WireBatch;
  /** Its tasks, should its plain arguments have to be serialized after all. */
  formed: Formed;
  events: BatchEvents;
  timer: NodeJS.Timeout | undefined;
  /** When a worker started the batch (performance.now()), for the batch sizer. */
  started: number;
  /** When it was sent, for the profile's queue wait. */
  sent: number;
}

type Source = { next(): IteratorResult<unknown> | Promise<IteratorResult<unknown>>; return?(): unknown };

/** The frame of delivery.ts's async generator resumed by its consumer's next() (return, throw). */
const OWN_NEXT = /^\s*at (?:async )?generate\.(?:next|return|throw) \(<anonymous>\)$/;

/**
 * The scheduling of one run: pulls tasks lazily from the input, keeps at most
 * `maxOutstanding` batches' worth of them between the input and the consumer,
 * forms batches of the size the sizer says, sends one when the workers have
 * room, times tasks out, and stops at the first failure (a task error, a
 * timeout, an abort): everything still pending is cancelled and the failure
 * goes to the delivery, so nothing is lost silently. A settled run (`settle`)
 * goes on instead: every task's value or failure reaches the delivery as its
 * `Settled` entry, and only an abort or a failing input stops it. The wire
 * form is BatchWire's; where results go, the Delivery's.
 */
export class RunScheduler<T> {
  private readonly source: Source;
  /** The input when it is an Array iterated the standard way: read by index, with no iterator result per task. */
  private readonly array: readonly unknown[] | undefined;
  /** map(fn, array): each element is the argument of a call of this function, with no Task made for it. */
  private readonly mapFn: Function | undefined;
  private readonly encoder: TaskEncoder;
  private readonly wire: BatchWire;
  private readonly pending = new Map<number, InFlight>();
  private delivery!: Delivery<T>;
  private takesOnArrival = false;
  private nextIndex = 0;
  /** Tasks taken from the input and not yet handed to the consumer. */
  private outstanding = 0;
  private exhausted = false;
  private pulling = false;
  private failed: { error: unknown } | undefined;
  private ended = false;
  /** Encoded tasks waiting to fill a batch. */
  private forming = new Formed();
  private sizer: AutoBatchSizer;
  private maxOutstanding: number;
  private batchTarget = 1;
  /** windowUnit() as last computed; undefined once the batches in flight or the target changed. */
  private unit: number | undefined;
  /** How many tasks the input holds, when it says (an array): for smaller batches at the end. */
  readonly total: number | undefined;
  private readonly observer: RunObserver | undefined;
  /** Main-thread time spent preparing the forming batch's tasks, when profiled. */
  private formingMs = 0;
  /** The consumer stopped reading: the run ends without having failed. */
  private leftEarly = false;
  private readonly onAbort = () => this.fail(this.plan.signal!.reason);
  /** Map over, or run() of, an Array whose slice() is a plain copy: its items are taken a batch at a time (enqueueRange). */
  private readonly inRanges: boolean = false;
  /** The function of the run's first task: what the sizer's learning is kept under. */
  private firstFn: Function | undefined;

  /** Opens the input (throwing if it is not one); nothing runs before start(). */
  constructor(
    tasks: Iterable<Task<T>> | AsyncIterable<Task<T>>,
    private readonly plan: RunPlan,
  ) {
    this.source = openSource(tasks);
    if (tasks instanceof MappedArray) {
      this.mapFn = tasks.fn;
      this.array = tasks.items;
    } else this.array = iteratesAsArray(tasks) ? tasks : undefined;
    this.inRanges = this.array !== undefined && slicesPlainly(this.array);
    this.total = Array.isArray(tasks) ? tasks.length : this.array?.length;
    this.encoder = new TaskEncoder(plan.serializer, plan.sharing);
    this.wire = new BatchWire(this.encoder, plan.serializer, plan.serializerModule, plan.backend.capabilities.clonesMessages === true, plan.initializer);
    // One task per message where a task's own clock or the main thread's turn matters: a per-task
    // timeout (whatever batchSize says: one timer per batch would time the whole batch), and the
    // inline backend (which does not batch).
    const clocked = this.hasTimeout();
    const oneByOne = clocked || plan.backend.capabilities.isolation === 'none' ? 1 : undefined;
    this.sizer = new AutoBatchSizer(plan.backend.nWorkers, clocked ? 1 : plan.batchSize === 'auto' ? oneByOne : plan.batchSize, plan.backend.capabilities.batchDurationMs, plan.backend.maxBatchTasks);
    this.retarget(this.total);
    this.maxOutstanding = plan.maxOutstanding;
    this.observer = plan.observer;
  }

  /** The run's first failure, once it failed. */
  get failure(): { error: unknown } | undefined {
    return this.failed;
  }

  /**
   * Gives the failures made so far where the run is awaited: called by the function the caller
   * awaits (`below`), where V8's async stack shows the caller's `await`. One capture per call that
   * has failures to place; none for a run without failures.
   */
  placeFailures(below: Function): void {
    const failures = this.wire.takeUnplaced();
    if (!failures.length) return;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, below);
    if (typeof holder.stack !== 'string') return; // a prepareStackTrace of the program's own
    // Node's frames (the timer or tick that resumed the run) say nothing of the caller's code, nor
    // does the async generator's own next() (a consumer that calls it when a result is waiting).
    const lines = holder.stack.split('\n').filter((line, k) => k === 0 || !(line.includes('node:internal/') || OWN_NEXT.test(line)));
    // No frame of the caller's (a run consumed with .then(), Error.stackTraceLimit 0): no section.
    if (lines.length < 2) return;
    const stack = lines.join('\n');
    for (const failure of failures) addRunStack(failure, stack);
  }

  /** Every task taken from the input has answered. */
  get finished(): boolean {
    return this.exhausted && this.pending.size === 0 && !this.pulling && !this.forming.length;
  }

  /** Start reading the input; results and news go to `delivery`. */
  start(delivery: Delivery<T>): void {
    this.delivery = delivery;
    this.takesOnArrival = delivery.takesOnArrival;
    this.observer?.runStarted?.(this.total);
    const { signal } = this.plan;
    if (signal?.aborted) return this.fail(signal.reason);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const { backend } = this.plan;
    if (!backend.prepare) return void this.fill();
    // A remote backend finds its workers first; the window and the batch sizes follow their number.
    this.pulling = true;
    backend.prepare().then(
      () => {
        this.pulling = false;
        if (this.failed) return;
        if (this.plan.windowFor) this.maxOutstanding = this.plan.windowFor(backend.nWorkers);
        this.sizer = new AutoBatchSizer(backend.nWorkers, this.sizer.fixedSize, backend.capabilities.batchDurationMs, backend.maxBatchTasks);
        this.retarget(this.total);
        void this.fill();
      },
      (error) => {
        this.pulling = false;
        this.fail(error);
      },
    );
  }

  /** A generator's consumer took a result: room for one more task. */
  taken(): void {
    this.outstanding--;
    void this.fill();
  }

  /** The consumer left early: stop what is pending, quietly. */
  cancel(): void {
    if (!this.ended && !this.failed) {
      this.fail(new AbortError('The consumer stopped reading results; pending tasks were cancelled.'));
      // Leaving early is the consumer's choice, not a failure of the run.
      this.leftEarly = true;
    }
    this.end();
  }

  /** The delivery has settled the run: workers may drop what it alone used. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    const ids = this.encoder.runScopedIds();
    if (ids.length) this.plan.backend.release(ids);
    const learned = this.sizer.learned();
    if (learned && this.firstFn) this.plan.batchMemory?.set(this.firstFn, learned);
    this.observer?.runEnded?.(this.leftEarly ? undefined : this.failed?.error);
  }

  /** At the first task: the sizer starts where the last run of its function left off, if any. */
  private resumeSizer(fn: Function): void {
    this.firstFn = fn;
    const learned = this.plan.batchMemory?.get(fn);
    if (!learned) return;
    this.sizer.resume(learned);
    this.retarget(this.total === undefined ? undefined : this.total - this.nextIndex);
  }

  /** The size of the next batch, given how many tasks are known to remain. */
  private retarget(remaining: number | undefined): void {
    this.batchTarget = this.sizer.next(remaining);
    this.unit = undefined;
  }

  /** Each task has its own clock (a per-task timeout). */
  private hasTimeout(): boolean {
    return this.plan.timeout !== undefined && this.plan.timeout !== Infinity;
  }

  private async fill(): Promise<void> {
    if (this.pulling) return;
    this.pulling = true;
    try {
      const array = this.array;
      while (
        !this.failed &&
        !this.exhausted &&
        this.outstanding < this.maxOutstanding * this.windowUnit() &&
        // A full batch waiting for room in the workers' buffers: take no more for now.
        !(this.forming.length >= this.batchTarget && !this.canSend())
      ) {
        let item: unknown;
        if (array) {
          if (this.inRanges) {
            // A plain Array: the items (or tasks) of the batch being formed in one copy, read now.
            const count = Math.min(this.batchTarget - this.forming.length, this.maxOutstanding * this.windowUnit() - this.outstanding, array.length - this.nextIndex);
            if (count > 1) {
              this.enqueueRange(array, count);
              continue;
            }
          }
          // As the array's iterator reads it: its length and its element now.
          if (this.nextIndex < array.length) item = array[this.nextIndex];
          else {
            this.exhausted = true;
            this.observer?.totalKnown?.(this.nextIndex);
            break;
          }
        } else {
          let step = this.source.next();
          if (isPromiseLike(step)) {
            // An async input may take its time: do not hold a partial batch while workers are idle.
            if (this.forming.length && this.pending.size < this.plan.backend.nWorkers) this.flush();
            step = await step;
          }
          if (this.failed) break;
          if (step.done) {
            this.exhausted = true;
            this.observer?.totalKnown?.(this.nextIndex);
            break;
          }
          item = step.value;
        }
        this.enqueue(item, this.nextIndex++);
      }
      // A partial batch goes when the input is done, or when a worker would otherwise idle (near
      // the end of a run the window may not hold a full batch while an older, larger one is still
      // in flight). Array mode takes its results in bulk, so this does not make batches of one.
      if (!this.failed && this.forming.length && (this.exhausted || this.pending.size < this.plan.backend.nWorkers) && this.canSend()) this.flush();
    } catch (error) {
      // The input itself threw (a generator's own error): that ends the run.
      this.fail(error);
    } finally {
      this.pulling = false;
      this.delivery.changed();
    }
  }

  /**
   * `count` items of map's Array, or tasks of run()'s, copied in one slice (each read once, now, as
   * the iterator would), and added in one step when they are primitives (the one primitive argument
   * of a task of the run's function); else one by one from the copy.
   */
  private enqueueRange(array: readonly unknown[], count: number): void {
    const first = this.nextIndex;
    const items = array.slice(first, first + count);
    this.nextIndex += count;
    // The run's first item goes alone: it makes the function's def (or fails as a task would).
    const alone = this.firstFn === undefined ? 1 : 0;
    if (alone) this.enqueue(items[0], first);
    const fn = this.mapFn ?? this.firstFn;
    if (!this.failed && fn !== undefined && !this.observer?.wantsTiming && this.encoder.takesRange(fn)) {
      // Map's items are the arguments; run()'s tasks are replaced by theirs in the copy, when each is a task of fn with one primitive argument.
      let added = false;
      if (this.mapFn) added = this.encoder.prepareRange(fn, items, alone, first, this.forming);
      else if (toSoleArguments(items, alone, fn)) {
        this.encoder.addRange(items, alone, first, this.forming);
        added = true;
      }
      if (added) {
        this.outstanding += count - alone;
        if (this.forming.length >= this.batchTarget && this.canSend()) this.flush();
        return;
      }
    }
    for (let k = alone; k < count && !this.failed; k++) this.enqueue(items[k], first + k);
  }

  /** Encode one task (refusing it here, before any worker, if it cannot travel) and add it to the forming batch. */
  private enqueue(item: unknown, index: number): void {
    this.outstanding++;
    if (this.mapFn === undefined && !isTask(item)) {
      this.fail(new TypeError(`run() expects tasks made by delayed(fn)(...args); item ${index} is ${describeValue(item)}`));
      return;
    }
    try {
      if (this.observer?.wantsTiming) {
        const begun = performance.now();
        this.prepare(item, index);
        this.formingMs += performance.now() - begun;
      } else this.prepare(item, index);
    } catch (error) {
      // Settled: a task that cannot travel is that task's entry; the others still run.
      if (this.settles(error)) this.reject([index], error);
      else this.fail(error);
      return;
    }
    if (this.forming.length >= this.batchTarget && this.canSend()) this.flush();
  }

  /** Encode a task of the input (or map's item) into the forming batch. */
  private prepare(item: unknown, index: number): void {
    if (this.firstFn === undefined) this.resumeSizer(this.mapFn ?? (item as Task).fn);
    if (this.mapFn) this.encoder.prepareItem(this.mapFn, item, index, this.forming);
    else this.encoder.prepare(item as Task, index, this.forming);
  }

  /**
   * The window counts batches (joblib's pre_dispatch): its unit is the batch size, the larger of
   * the target and the largest batch in flight, so a large batch that lingers (a slow task in it)
   * does not shrink the window when the target shrinks near the end, idling the other workers.
   */
  private windowUnit(): number {
    // Read once per task: computed again only after a batch was sent or answered, or the target changed.
    if (this.unit !== undefined) return this.unit;
    let unit = this.batchTarget;
    for (const inFlight of this.pending.values()) unit = Math.max(unit, inFlight.batch.indices.length);
    return (this.unit = unit);
  }

  /** Room in the workers' buffers: batches in flight stay under nWorkers x (1 + perWorkerBufferSize). */
  private canSend(): boolean {
    return this.pending.size < this.plan.backend.nWorkers * (1 + this.plan.perWorkerBufferSize);
  }

  /** Send the forming batch: one message for all its tasks. */
  private flush(): void {
    const formed = this.forming;
    this.forming = new Formed();
    const timed = this.observer?.wantsTiming === true;
    const begun = timed ? performance.now() : 0;
    let batch: WireBatch;
    try {
      batch = this.wire.build(formed, timed);
    } catch (error) {
      if (!this.settles(error)) return this.fail(error);
      // Settled: find which tasks cannot travel by sending each alone; only they fail.
      if (formed.length === 1) return this.reject(formed.indices, error);
      for (let k = 0; k < formed.length; k++) this.sendAlone(formed.one(k), false);
      return;
    }
    this.send(batch, formed, timed, begun);
    this.retarget(this.total === undefined ? undefined : this.total - this.nextIndex);
  }

  /** Settled: one task sent in a batch of its own (packed: its arguments serialized), or its entry if it cannot travel. */
  private sendAlone(one: Formed, packed: boolean): void {
    const timed = this.observer?.wantsTiming === true;
    const begun = timed ? performance.now() : 0;
    let batch: WireBatch;
    try {
      batch = this.wire.build(one, timed);
      if (packed) batch = this.wire.packed(batch, one);
    } catch (error) {
      if (this.settles(error)) this.reject(one.indices, error);
      else this.fail(error);
      return;
    }
    this.send(batch, one, timed, begun);
  }

  private send(batch: WireBatch, formed: Formed, timed: boolean, begun: number): void {
    if (this.observer) {
      const encodeMs = timed ? this.formingMs + performance.now() - begun : 0;
      this.formingMs = 0;
      const { bytes, estimated } = batchBytes(batch, timed);
      this.observer.batchSent?.({ tasks: formed.length, encodeMs, bytes, estimated });
    }
    const inFlight: InFlight = {
      batch,
      formed,
      events: {
        // A batch waits in a busy worker's queue only when known to be short; and never with a
        // per-task timeout, whose clock counts from the start.
        alone: this.hasTimeout() || !this.sizer.isShort(formed.length),
        ...(this.hasTimeout() && { timeoutMs: this.plan.timeout! }),
        onStart: () => {
          inFlight.started = performance.now();
          if (timed) this.observer!.batchStarted?.(inFlight.started - inFlight.sent);
          this.armTimeout(inFlight);
        },
        onLateFailure: (result) => this.lateFailure(result),
      },
      timer: undefined,
      started: 0,
      sent: timed ? performance.now() : 0,
    };
    this.pending.set(batch.id, inFlight);
    this.unit = undefined;
    this.submit(inFlight);
  }

  private submit(inFlight: InFlight): void {
    const { id } = inFlight.batch;
    this.plan.backend.submit(inFlight.batch, inFlight.events).then(
      (reply) => this.onResults(id, reply, inFlight),
      (error) => this.onBatchFailed(id, error, inFlight),
    );
  }

  private armTimeout(inFlight: InFlight): void {
    const { timeout } = this.plan;
    if (timeout === undefined || timeout === Infinity) return;
    const index = inFlight.batch.indices[0]!;
    inFlight.timer = setTimeout(() => {
      const error = new TimeoutError(index, timeout);
      // Settled: only this task fails; cancelling stops its worker (replaced) and rejects its batch
      // with the error, which onBatchFailed turns into its entry.
      if (this.plan.settle) this.plan.backend.cancel(inFlight.batch.id, error);
      else this.fail(error);
    }, timeout);
  }

  private settle(id: number): boolean {
    const inFlight = this.pending.get(id);
    if (!inFlight) return false;
    clearTimeout(inFlight.timer);
    this.pending.delete(id);
    this.unit = undefined;
    return !this.failed;
  }

  private onResults(id: number, reply: WireReply, inFlight: InFlight): void {
    if (!this.settle(id)) return;
    const { indices } = inFlight.batch;
    // The worker's own time when it says (WireReply.ms): what this side measures also holds the
    // time the reply waited for this thread.
    if (inFlight.started) this.sizer.record(indices.length, Math.min(performance.now() - inFlight.started, reply.ms ?? Infinity));
    this.retarget(this.total === undefined ? undefined : this.total - this.nextIndex);
    // Room freed: a full batch that waited goes now; with nothing left in flight, a partial one must
    // go too, or the run would wait on it forever. Then the input may be read again.
    if (this.forming.length && !this.failed && (this.forming.length >= this.batchTarget || this.exhausted || this.pending.size === 0)) this.flush();
    // Array mode reads more input once this batch's results are in (they free the window, and the
    // run may only be settled after them).
    if (!this.takesOnArrival) void this.fill();
    const timed = this.observer?.wantsTiming === true;
    const begun = timed ? performance.now() : 0;
    let failedHere = 0;
    try {
      let handed: number;
      if (this.plan.settle) {
        // Every task of the batch gets its entry: its value, or its own failure.
        handed = 0;
        const delivery = this.delivery as ResultSink<unknown>;
        this.wire.read(
          reply,
          indices,
          { put: (index, value) => (handed++, delivery.put(index, { status: 'fulfilled', value, index })) },
          (index, reason) => (handed++, failedHere++, delivery.put(index, { status: 'rejected', reason, index })),
        );
      } else handed = this.wire.read(reply, indices, this.delivery);
      if (this.takesOnArrival) this.outstanding -= handed;
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      if (this.observer) {
        const facts = replyFacts(reply, timed);
        if (this.plan.settle) facts.failed = failedHere;
        this.observer.batchDone?.({ tasks: indices.length, decodeMs: timed ? performance.now() - begun : 0, worker: reply.worker, timing: reply.timing, ...facts });
      }
    }
    // Array mode frees window room as results land: read more input now.
    if (this.takesOnArrival) void this.fill();
    this.delivery.changed();
  }

  private onBatchFailed(id: number, error: unknown, inFlight: InFlight): void {
    if (error instanceof TransportRefusedError && inFlight.batch.args !== undefined && this.pending.get(id) === inFlight && !this.failed) {
      // The transport refused to clone the plain arguments (a symbol, say): send them serialized,
      // which either works or throws the error that names the task and the path.
      try {
        inFlight.batch = this.wire.packed(inFlight.batch, inFlight.formed);
      } catch (serializationError) {
        if (this.settles(serializationError) && inFlight.formed.length > 1) {
          // Settled: each task goes alone, serialized, so that only those that cannot travel fail.
          this.settle(id);
          for (let k = 0; k < inFlight.formed.length; k++) this.sendAlone(inFlight.formed.one(k), true);
          this.afterSettled();
          return;
        }
        this.onBatchFailed(id, serializationError, inFlight);
        return;
      }
      this.submit(inFlight);
      return;
    }
    if (!this.settle(id)) return;
    if (!this.settles(error)) return this.fail(error);
    // Settled: a crash (the worker is replaced), a timeout or a refusal is the batch's tasks' entry.
    // They are reported, not run again: a task that crashed its worker may have done part of its work,
    // and those that had finished before it ran (their results died with the worker). Those the
    // worker had not started never ran: they go to a worker now, each alone.
    if (error instanceof WorkerCrashedError && error.notStarted.length) {
      const notStarted = new Set(error.notStarted);
      this.reject(inFlight.batch.indices.filter((index) => !notStarted.has(index)), error);
      const { formed } = inFlight;
      for (let k = 0; k < formed.length; k++) if (notStarted.has(formed.indices[k]!)) this.sendAlone(formed.one(k), inFlight.batch.packed !== undefined);
    } else this.reject(inFlight.batch.indices, error);
    this.afterSettled();
  }

  /**
   * A task of an answered batch failed after all: a promise it left rejected with no handler, and
   * its worker noticed only after the reply had gone (a timer of the task's rejected it, say). A
   * run still going fails with it, as it would have in the reply. A run that ended, or a settled
   * run that already gave the task's entry, cannot take it back: a warning names the task, so it is
   * never lost and never blamed on a later run.
   */
  private lateFailure(result: WireResult): void {
    if (result.ok) return;
    let error: unknown;
    try {
      error = this.wire.failureOf(result);
    } catch (decodeError) {
      error = decodeError;
    }
    if (!this.ended && !this.failed && !this.plan.settle) return this.fail(error);
    const when = this.ended ? 'after its run had ended' : 'after its entry was delivered';
    process.emitWarning(`${error instanceof Error ? error.message : String(error)} (noticed ${when})`, 'JobletWarning');
  }

  /** A settled run whose failure belongs to its tasks: a TaskError, a WorkerCrashedError, a TimeoutError, a SerializationError. */
  private settles(error: unknown): boolean {
    return this.plan.settle === true && error instanceof JobletError && !(error instanceof AbortError);
  }

  /** Settled: these tasks failed with `error`; each gets its rejected entry, counted done and failed. */
  private reject(indices: readonly number[], error: unknown): void {
    const delivery = this.delivery as ResultSink<unknown>;
    for (const index of indices) delivery.put(index, { status: 'rejected', reason: error, index });
    if (this.takesOnArrival) this.outstanding -= indices.length;
    this.observer?.tasksFailed?.(indices.length);
  }

  /** Settled: a batch left the workers without a reply; what waited may go, and the input may be read again. */
  private afterSettled(): void {
    if (this.forming.length && !this.failed && (this.forming.length >= this.batchTarget || this.exhausted || this.pending.size === 0) && this.canSend()) this.flush();
    void this.fill();
    this.delivery.changed();
  }

  private fail(error: unknown): void {
    if (this.failed || this.ended) return;
    this.failed = { error };
    for (const [id, inFlight] of this.pending) {
      clearTimeout(inFlight.timer);
      this.plan.backend.cancel(id, error);
    }
    this.pending.clear();
    this.unit = undefined;
    // Let a generator input run its finally blocks; its own errors no longer matter.
    try {
      void Promise.resolve(this.source.return?.()).catch(() => {});
    } catch {
      /* the input's return() threw: ignored, the run already failed */
    }
    this.delivery.changed();
  }
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function openSource(tasks: unknown): Source {
  if (tasks !== null && typeof tasks === 'object' || typeof tasks === 'function') {
    const asyncIterator = (tasks as AsyncIterable<unknown>)[Symbol.asyncIterator];
    if (typeof asyncIterator === 'function') return asyncIterator.call(tasks);
    const iterator = (tasks as Iterable<unknown>)[Symbol.iterator];
    if (typeof iterator === 'function') return iterator.call(tasks);
  }
  throw new TypeError(`run() expects an iterable or async iterable of tasks, got ${describeValue(tasks)}`);
}
