import { AbortError, SerializationError, TaskError, TimeoutError, type ThrownRecord } from '../errors.js';
import { decodeValue } from '../serialize/payload.js';
import type { Serializer } from '../serialize/types.js';
import type { Backend } from '../backends/types.js';
import type { WireBatch, WireDef, WireReply, WireResult } from '../runtime/protocol.js';
import { AutoBatchSizer } from './batching.js';
import { isTask, type Task } from './delayed.js';
import { describeValue } from './describe.js';
import { TaskEncoder, type Prepared, type SharingPlan } from './taskEncoder.js';
import type { RunObserver } from './observer.js';
import { estimatePayloadBytes } from './profiler.js';

export interface RunPlan {
  backend: Backend;
  serializer: Serializer;
  serializerModule: string | undefined;
  /** Batches' worth of tasks taken from the input and not yet handed to the consumer (joblib's pre_dispatch). */
  maxOutstanding: number;
  /** 'auto' (adaptive), or a fixed number of tasks per message. */
  batchSize: 'auto' | number;
  /** Batches that may wait queued for each worker beyond the one it runs (grain's per_worker_buffer_size). */
  perWorkerBufferSize: number;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  sharing: SharingPlan;
  order: 'submission' | 'completion';
  /** Progress, verbose lines, profiling: told of each batch. */
  observer?: RunObserver | undefined;
}

export interface Completed<T> {
  index: number;
  value: T;
}

interface Pending {
  indices: number[];
  timer: NodeJS.Timeout | undefined;
  /** When a worker started the batch (performance.now()), for the batch sizer. */
  started: number;
  /** When it was sent, for the profile's queue wait. */
  sent: number;
}


type Source = { next(): IteratorResult<unknown> | Promise<IteratorResult<unknown>>; return?(): unknown };

let nextBatchId = 0;

/**
 * One run: pulls tasks lazily from the input, keeps at most
 * `maxOutstanding` of them between the input and the consumer, and yields
 * results in submission or completion order. The first failure (a task
 * error, a timeout, an abort) stops everything still pending and is thrown
 * to the consumer; nothing is lost silently.
 */
export class TaskStream<T> {
  private readonly source: Source;
  private readonly encoder: TaskEncoder;
  private readonly pending = new Map<number, Pending>();
  private readonly done = new Map<number, T>();
  private completionQueue: Completed<T>[] = [];
  private nextIndex = 0;
  private nextToYield = 0;
  private outstanding = 0;
  private exhausted = false;
  private pulling = false;
  private failure: { error: unknown } | undefined;
  private ended = false;
  /** Encoded tasks waiting to fill a batch. */
  private forming: Prepared[] = [];
  private readonly sizer: AutoBatchSizer;
  private batchTarget = 1;
  /** How many tasks the input holds, when it says (an array): for smaller batches at the end. */
  readonly total: number | undefined;
  private wake: (() => void) | undefined;
  private readonly observer: RunObserver | undefined;
  /** Main-thread time spent preparing the forming batch's tasks, when profiled. */
  private formingMs = 0;
  /** The consumer stopped reading: the run ends without having failed. */
  private leftEarly = false;
  private readonly onAbort = () => this.fail(this.plan.signal!.reason);
  /** Array mode (all()): where results go, and the run's one promise. */
  private sink: { results: T[]; resolve(results: T[]): void; reject(error: unknown): void } | undefined;

  constructor(
    tasks: Iterable<Task<T>> | AsyncIterable<Task<T>>,
    private readonly plan: RunPlan,
  ) {
    this.source = openSource(tasks);
    this.total = Array.isArray(tasks) ? tasks.length : undefined;
    this.encoder = new TaskEncoder(plan.serializer, plan.sharing);
    // One task per message where a task's own clock or the main thread's turn matters: a per-task
    // timeout (whatever batchSize says: one timer per batch would time the whole batch), and the
    // inline backend (which does not batch).
    const timed = plan.timeout !== undefined && plan.timeout !== Infinity;
    const oneByOne = timed || plan.backend.capabilities.isolation === 'none' ? 1 : undefined;
    this.sizer = new AutoBatchSizer(plan.backend.nWorkers, timed ? 1 : plan.batchSize === 'auto' ? oneByOne : plan.batchSize);
    this.batchTarget = this.sizer.next(this.total);
    this.observer = plan.observer;
    this.observer?.runStarted?.(this.total);
    const { signal } = plan;
    if (signal?.aborted) this.fail(signal.reason);
    else {
      signal?.addEventListener('abort', this.onAbort, { once: true });
      void this.fill();
    }
  }

  /** The next result, or done; throws the run's first failure. */
  async next(): Promise<IteratorResult<Completed<T>, undefined>> {
    for (;;) {
      if (this.failure) {
        this.end();
        throw this.failure.error;
      }
      const item = this.take();
      if (item) {
        this.outstanding--;
        void this.fill();
        return { done: false, value: item };
      }
      if (this.exhausted && this.pending.size === 0 && !this.pulling) {
        this.end();
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /**
   * Every result in submission order, as one promise (returnAs 'array'): results go straight
   * into the array as batches answer, with no promise and no refill per result. Call it once,
   * right after construction, instead of next().
   */
  all(): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      this.sink = { results: this.total === undefined ? [] : new Array<T>(this.total), resolve, reject };
      this.settleSink();
    });
  }

  /** The consumer left early: stop what is pending, quietly. */
  cancel(): void {
    if (!this.ended && !this.failure) {
      this.fail(new AbortError('The consumer stopped reading results; pending tasks were cancelled.'));
      // Leaving early is the consumer's choice, not a failure of the run.
      this.leftEarly = true;
    }
    this.end();
  }

  private take(): Completed<T> | undefined {
    if (this.plan.order === 'completion') return this.completionQueue.shift();
    if (!this.done.has(this.nextToYield)) return undefined;
    const index = this.nextToYield++;
    const value = this.done.get(index)!;
    this.done.delete(index);
    return { index, value };
  }

  private notify(): void {
    if (this.sink) return this.settleSink();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async fill(): Promise<void> {
    if (this.pulling) return;
    this.pulling = true;
    try {
      while (
        !this.failure &&
        !this.exhausted &&
        this.outstanding < this.plan.maxOutstanding * this.windowUnit() &&
        // A full batch waiting for room in the workers' buffers: take no more for now.
        !(this.forming.length >= this.batchTarget && !this.canSend())
      ) {
        let step = this.source.next();
        if (isPromiseLike(step)) {
          // An async input may take its time: do not hold a partial batch while workers are idle.
          if (this.forming.length && this.pending.size < this.plan.backend.nWorkers) this.flush();
          step = await step;
        }
        if (this.failure) break;
        if (step.done) {
          this.exhausted = true;
          this.observer?.totalKnown?.(this.nextIndex);
          break;
        }
        this.enqueue(step.value, this.nextIndex++);
      }
      // A partial batch goes when the input is done, or when a worker would otherwise idle (near
      // the end of a run the window may not hold a full batch while an older, larger one is still
      // in flight). Array mode takes its results in bulk, so this does not make batches of one.
      if (!this.failure && this.forming.length && (this.exhausted || this.pending.size < this.plan.backend.nWorkers) && this.canSend()) this.flush();
    } catch (error) {
      // The input itself threw (a generator's own error): that ends the run.
      this.fail(error);
    } finally {
      this.pulling = false;
      this.notify();
    }
  }

  /** Encode one task (refusing it here, before any worker, if it cannot travel) and add it to the forming batch. */
  private enqueue(item: unknown, index: number): void {
    this.outstanding++;
    if (!isTask(item)) {
      this.fail(new TypeError(`run() expects tasks made by delayed(fn)(...args); item ${index} is ${describeValue(item)}`));
      return;
    }
    try {
      if (this.observer?.wantsTiming) {
        const begun = performance.now();
        this.forming.push(this.encoder.prepare(item, index));
        this.formingMs += performance.now() - begun;
      } else this.forming.push(this.encoder.prepare(item, index));
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.forming.length >= this.batchTarget && this.canSend()) this.flush();
  }

  /**
   * The window counts batches (joblib's pre_dispatch): its unit is the batch size, the larger of
   * the target and the largest batch in flight, so a large batch that lingers (a slow task in it)
   * does not shrink the window when the target shrinks near the end, idling the other workers.
   */
  private windowUnit(): number {
    let unit = this.batchTarget;
    for (const pending of this.pending.values()) unit = Math.max(unit, pending.indices.length);
    return unit;
  }

  /** Room in the workers' buffers: batches in flight stay under nWorkers x (1 + perWorkerBufferSize). */
  private canSend(): boolean {
    return this.pending.size < this.plan.backend.nWorkers * (1 + this.plan.perWorkerBufferSize);
  }

  /** Send the forming batch: one message for all its tasks, each def once. */
  private flush(): void {
    const formed = this.forming;
    this.forming = [];
    let payload: { args: unknown[] } | { packed: Uint8Array | string };
    const timed = this.observer?.wantsTiming === true;
    const begun = timed ? performance.now() : 0;
    try {
      payload = this.encoder.packForTransport(formed, this.plan.backend.capabilities.clonesMessages === true);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.observer) {
      const encodeMs = timed ? this.formingMs + performance.now() - begun : 0;
      this.formingMs = 0;
      const bytes = 'packed' in payload ? payload.packed.length : timed ? estimatePayloadBytes(payload.args) : 0;
      this.observer.batchSent?.({ tasks: formed.length, encodeMs, bytes, estimated: !('packed' in payload) });
    }
    const defs = new Map<string, WireDef>();
    for (const { defs: used } of formed) for (const def of used) defs.set(def.id, def);
    const id = nextBatchId++;
    const pending: Pending = { indices: formed.map((e) => e.task.index), timer: undefined, started: 0, sent: timed ? performance.now() : 0 };
    this.pending.set(id, pending);
    // Every key costs its clone in both directions: the optional ones only when set.
    const batch: WireBatch = { id, serializer: this.plan.serializer.name, defs: [...defs.values()], indices: pending.indices, fns: sameFunction(formed) ?? formed.map((e) => e.task.fn), ...payload };
    if (this.plan.serializerModule !== undefined) batch.serializerModule = this.plan.serializerModule;
    if (formed.some((e) => e.task.refKey)) batch.refKeys = formed.map((e) => e.task.refKey);
    if (timed) batch.profile = true;
    this.plan.backend
      .submit(batch, {
        // A batch waits in a busy worker's queue only when known to be short; and never with a
        // per-task timeout, whose clock counts from the start.
        alone: (this.plan.timeout !== undefined && this.plan.timeout !== Infinity) || !this.sizer.isShort(formed.length),
        onStart: () => {
          pending.started = performance.now();
          if (timed) this.observer!.batchStarted?.(pending.started - pending.sent);
          this.armTimeout(pending, pending.indices[0]!);
        },
        repack: () => ({ ...batch, args: undefined, unary: undefined, packed: this.encoder.pack(formed) }),
      })
      .then(
        (reply) => this.onResults(id, reply, pending),
        (error) => this.onBatchFailed(id, error),
      );
    this.batchTarget = this.sizer.next(this.total === undefined ? undefined : this.total - this.nextIndex);
  }

  private armTimeout(pending: Pending, index: number): void {
    const { timeout } = this.plan;
    if (timeout === undefined || timeout === Infinity) return;
    pending.timer = setTimeout(() => this.fail(new TimeoutError(index, timeout)), timeout);
  }

  private settle(id: number): boolean {
    const pending = this.pending.get(id);
    if (!pending) return false;
    clearTimeout(pending.timer);
    this.pending.delete(id);
    return !this.failure;
  }

  private onResults(id: number, reply: WireReply, pending: Pending): void {
    if (!this.settle(id)) return;
    if (pending.started) this.sizer.record(pending.indices.length, performance.now() - pending.started);
    this.batchTarget = this.sizer.next(this.total === undefined ? undefined : this.total - this.nextIndex);
    // Room freed: a full batch that waited goes now; with nothing left in flight, a partial one must
    // go too, or the run would wait on it forever. Then the input may be read again.
    if (this.forming.length && !this.failure && (this.forming.length >= this.batchTarget || this.exhausted || this.pending.size === 0)) this.flush();
    // Array mode reads more input once this batch's results are in (they free the window, and the
    // run may only be settled after them).
    if (!this.sink) void this.fill();
    const timed = this.observer?.wantsTiming === true;
    const begun = timed ? performance.now() : 0;
    try {
      if (reply.results) for (const result of reply.results) this.accept(result);
      else this.acceptPacked(reply, pending.indices);
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      if (this.observer) this.reportDone(reply, pending.indices.length, timed ? performance.now() - begun : 0);
    }
    // Array mode frees window room as results land: read more input now.
    if (this.sink) void this.fill();
    this.notify();
  }

  /** Array mode: settle the run's promise once it failed, or once every task has answered. */
  private settleSink(): void {
    const sink = this.sink!;
    if (this.failure) {
      this.sink = undefined;
      this.end();
      sink.reject(this.failure.error);
    } else if (this.exhausted && this.pending.size === 0 && !this.pulling && !this.forming.length) {
      this.sink = undefined;
      this.end();
      sink.resolve(sink.results);
    }
  }

  private reportDone(reply: WireReply, tasks: number, decodeMs: number): void {
    const failed = reply.results ? reply.results.filter((r) => !r.ok).length : (reply.failures?.length ?? 0);
    const timed = this.observer!.wantsTiming === true;
    let bytes = 0;
    if (timed) {
      if (reply.packed !== undefined) bytes = reply.packed.length;
      else if (reply.values !== undefined) bytes = estimatePayloadBytes(reply.values);
      for (const result of reply.results ?? []) if (result.ok && result.value !== undefined) bytes += result.value.length;
    }
    this.observer!.batchDone?.({ tasks, failed, decodeMs, bytes, estimated: reply.values !== undefined, worker: reply.worker, timing: reply.timing });
  }

  private onBatchFailed(id: number, error: unknown): void {
    if (!this.settle(id)) return;
    this.fail(error);
  }

  /** A compact reply: the values of the tasks that succeeded in batch order, and the failures. */
  private acceptPacked(reply: WireReply, indices: number[]): void {
    const failed = reply.failures?.length ? new Map(reply.failures.map((failure) => [failure.index, failure])) : undefined;
    // A failure goes first: the run fails with it, as it would have task by task.
    if (failed) for (const failure of failed.values()) this.accept(failure);
    if (reply.packed === undefined && reply.values === undefined) return;
    const values =
      reply.values ?? (decodeValue(reply.packed!, this.plan.serializer, { phase: 'deserialize-result', root: 'result', taskIndex: indices[0] }) as unknown[]);
    let next = 0;
    for (const index of indices) if (!failed?.has(index)) this.deliver(index, values[next++] as T);
  }

  private deliver(index: number, value: T): void {
    if (this.sink) {
      // Handed over: room for more in the window (fill() runs after the batch's results).
      this.sink.results[index] = value;
      this.outstanding--;
      return;
    }
    if (this.plan.order === 'completion') this.completionQueue.push({ index, value });
    else this.done.set(index, value);
  }

  private accept(result: WireResult): void {
    const { serializer } = this.plan;
    if (result.ok) {
      this.deliver(result.index, decodeValue(result.value!, serializer, { phase: 'deserialize-result', root: 'result', taskIndex: result.index }) as T);
      return;
    }
    if (result.kind === 'serialization') throw new SerializationError({ ...result.failure, taskIndex: result.index });
    let record = result.record;
    if (result.data !== undefined) {
      record = decodeValue(result.data, serializer, { phase: 'deserialize-result', root: 'error', taskIndex: result.index }) as ThrownRecord;
    }
    throw new TaskError(result.index, record!);
  }

  private fail(error: unknown): void {
    if (this.failure || this.ended) return;
    this.failure = { error };
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.plan.backend.cancel(id, error);
    }
    this.pending.clear();
    // Let a generator input run its finally blocks; its own errors no longer matter.
    try {
      void Promise.resolve(this.source.return?.()).catch(() => {});
    } catch {
      /* the input's return() threw: ignored, the run already failed */
    }
    this.notify();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    const ids = this.encoder.runScopedIds();
    if (ids.length) this.plan.backend.release(ids);
    this.observer?.runEnded?.(this.leftEarly ? undefined : this.failure?.error);
  }
}

/** The one function id every task of a batch shares, if they do. */
function sameFunction(formed: readonly Prepared[]): string | undefined {
  const fn = formed[0]?.task.fn;
  return formed.every((e) => e.task.fn === fn) ? fn : undefined;
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
