import { AbortError, WorkerCrashedError } from '../errors.js';
import type { FromWorker, ToWorker, WireBatch, WireReply, WireResult } from '../runtime/protocol.js';
import { TransportRefusedError, type Backend, type BackendCapabilities, type BatchEvents } from './types.js';
import { JobQueue, type Job } from './jobQueue.js';
import { transferable } from '../runtime/transfer.js';
import type { BatchProgress } from '../runtime/progress.js';
import { referenceKind } from '../values/byReference.js';

/** One live worker, thread or process, as the pool sees it. */
export interface WorkerHandle {
  /** `transfer`: ArrayBuffers whose ownership moves with the message (threads; ignored elsewhere). */
  send(message: ToWorker, transfer?: ArrayBuffer[]): void;
  /** Keep the process alive while this worker has work. */
  ref(): void;
  /** Let the process exit while this worker is idle. */
  unref(): void;
  terminate(): Promise<void>;
}

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** Why it died, when the worker or the runtime said so. */
  reason?: string | undefined;
  /** It died because its heap was full. */
  outOfMemory?: boolean | undefined;
  /** Its heap limit in megabytes, when one was set. */
  memoryLimitMb?: number | undefined;
  /** It died reading a message this side sent (a value nested too deeply for its stack). */
  unreadable?: boolean | undefined;
  /** Where it was in its last batch, when it could say (runtime/progress.ts). */
  progress?: BatchProgress | undefined;
}

/** How a pool runs its workers beyond spawning them. */
export interface PoolOptions {
  /** Batches a worker may hold queued beyond the one it runs. */
  perWorkerBufferSize?: number | undefined;
  /** Replace a worker once it has run this many tasks (mpire's worker_lifespan). */
  maxTasksPerWorker?: number | undefined;
  /** Replace a worker once the heap in use it reports after a batch passes this many bytes (tinypool's maxMemoryLimitBeforeRecycle). */
  maxWorkerMemory?: number | undefined;
}

export interface WorkerEvents {
  message(message: FromWorker): void;
  exit(exit: WorkerExit): void;
}

export type SpawnWorker = (events: WorkerEvents) => WorkerHandle;

interface Slot {
  handle: WorkerHandle;
  /** Def ids this worker has received. */
  known: Set<string>;
  /** Batches sent to this worker, in order: the first is running, the others wait in its port. */
  jobs: Job[];
  /** Batches cancelled while waiting in the port: the worker will still answer them, and the answer is dropped. */
  dropped: Set<number>;
  /** The runtime has loaded; until then a batch waits in the channel and its clock has not started. */
  ready: boolean;
  /** Set when the pool itself stops the worker, so its exit is not a crash. */
  retired: boolean;
  /** The pool's own number for this worker (a replacement gets a new one), for profiles. */
  id: number;
  /** Tasks sent to this worker so far, for maxTasksPerWorker. */
  tasks: number;
  /** Due for replacement: it is sent nothing more, and is stopped once it has answered what it holds. */
  draining: boolean;
  /** The last batches this worker answered, newest last: a failure it reports late goes to its run. */
  answered: Job[];
}

/** Answered batches a worker's late failure may still name (it names the batch its task ran in, a recent one). */
const ANSWERED_KEPT = 8;

/**
 * A pool of workers behind the Backend interface, shared by the threads and
 * processes backends (tinypool's seam): they differ only in how a worker is
 * spawned. Workers start when a batch needs one, or all at once by warmUp(), and replace
 * crashed ones on demand. Each
 * worker is sent up to `1 + perWorkerBufferSize` batches, so that it starts
 * the next as soon as it finishes one, without a round trip to this thread;
 * a batch whose clock matters (a per-task timeout) runs alone.
 *
 * Recycling (`maxTasksPerWorker`, `maxWorkerMemory`) happens between batches: a worker due for
 * replacement is sent nothing more, answers the batches it already holds, and is stopped; the
 * next batch starts a new worker, which is sent every def the batch needs, as after a crash.
 * No batch is taken back from a worker, so none is lost or run twice.
 */
export class WorkerPool implements Backend {
  private readonly queue: JobQueue;
  private readonly slots = new Set<Slot>();
  private readonly running = new Map<number, Slot>();
  private readonly perWorker: number;
  private readonly maxTasks: number | undefined;
  private readonly maxMemory: number | undefined;
  private spawned = 0;
  /** A batch never holds more tasks than a worker may run: the run sizes its batches under this. */
  readonly maxBatchTasks: number | undefined;

  constructor(
    readonly name: string,
    readonly nWorkers: number,
    readonly capabilities: BackendCapabilities,
    private readonly spawn: SpawnWorker,
    options: PoolOptions = {},
  ) {
    this.perWorker = 1 + (options.perWorkerBufferSize ?? 1);
    this.maxTasks = options.maxTasksPerWorker;
    this.maxMemory = options.maxWorkerMemory;
    this.maxBatchTasks = options.maxTasksPerWorker;
    this.queue = new JobQueue(`The ${name} pool`);
  }

  submit(batch: WireBatch, events?: BatchEvents): Promise<WireReply> {
    const reply = this.queue.add(batch, events);
    this.pump();
    return reply;
  }

  cancel(batchId: number, reason: unknown): void {
    if (this.queue.cancel(batchId, reason)) return;
    const slot = this.running.get(batchId);
    if (!slot) return;
    const at = slot.jobs.findIndex((job) => job.batch.id === batchId);
    if (at < 0) return;
    const [job] = slot.jobs.splice(at, 1);
    this.running.delete(batchId);
    job!.reject(reason);
    if (at > 0) {
      // Still waiting in the worker's port: the worker skips it when its turn comes (it never
      // starts), and its empty answer is dropped.
      slot.dropped.add(batchId);
      slot.handle.send({ type: 'cancel', batchId });
      return;
    }
    // The only way to stop code running in a worker is to stop the worker; what waited behind it goes back to the queue.
    this.requeue(slot);
    this.retire(slot);
    this.pump();
  }

  warmUp(): void {
    while (this.slots.size < this.nWorkers && !this.queue.closed) {
      try {
        this.startWorker();
      } catch {
        return; // the first batch starts it again, and fails with the reason
      }
    }
  }

  release(defIds: readonly string[]): void {
    for (const slot of this.slots) {
      const held = defIds.filter((id) => slot.known.has(id));
      if (!held.length) continue;
      for (const id of held) slot.known.delete(id);
      slot.handle.send({ type: 'forget', ids: held });
    }
  }

  async terminate(): Promise<void> {
    const closed = new AbortError(`The ${this.name} pool was closed while the task was pending.`);
    this.queue.close(closed);
    const stopping: Promise<void>[] = [];
    for (const slot of [...this.slots]) {
      for (const job of slot.jobs.splice(0)) {
        this.running.delete(job.batch.id);
        job.reject(closed);
      }
      stopping.push(this.retire(slot));
    }
    await Promise.all(stopping);
  }

  private pump(): void {
    while (this.queue.length && !this.queue.closed) {
      const job = this.queue.peek()!;
      let slot = this.slotFor(job);
      if (!slot && this.slots.size < this.nWorkers) {
        try {
          slot = this.startWorker();
        } catch (error) {
          // The worker could not even be created: fail the job that needed it, never leave it queued.
          this.queue.shift();
          job.reject(this.neverStarted(job, error instanceof Error ? error.message : String(error)));
          continue;
        }
      }
      if (!slot) return;
      this.start(slot, this.queue.shift()!);
    }
  }

  /** An idle worker first; else, unless the job must run alone, the least loaded one with room in its buffer. */
  private slotFor(job: Job): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (!this.mayTake(slot, job)) continue;
      if (!slot.jobs.length) return slot;
      const alone = job.events?.alone || slot.jobs.some((queued) => queued.events?.alone);
      if (!alone && slot.jobs.length < this.perWorker && (!best || slot.jobs.length < best.jobs.length)) best = slot;
    }
    // Spawning a worker beats queueing behind a busy one.
    return best && this.slots.size >= this.nWorkers ? best : undefined;
  }

  /**
   * Whether the worker may be sent this batch: not when it is due for replacement, nor when the
   * batch would take it past maxTasksPerWorker (it is then replaced; a fresh worker takes any batch,
   * and the run keeps batches under the limit).
   */
  private mayTake(slot: Slot, job: Job): boolean {
    if (!slot.draining && this.maxTasks !== undefined && slot.tasks > 0 && slot.tasks + job.batch.indices.length > this.maxTasks) this.drain(slot);
    return !slot.draining;
  }

  /** Send the worker nothing more; stop it now if it holds nothing, else once it has answered. */
  private drain(slot: Slot): void {
    slot.draining = true;
    if (!slot.jobs.length) void this.retire(slot);
  }

  /** A batch that no worker could start, and why. */
  private neverStarted(job: Job, reason: string): WorkerCrashedError {
    return new WorkerCrashedError({ backend: this.name, exitCode: null, signal: null, taskIndices: job.batch.indices, reason, duringStartup: true });
  }

  private startWorker(): Slot {
    const slot: Slot = { handle: undefined as unknown as WorkerHandle, known: new Set(), jobs: [], dropped: new Set(), ready: false, retired: false, id: this.spawned++, tasks: 0, draining: false, answered: [] };
    slot.handle = this.spawn({
      message: (message) => this.onMessage(slot, message),
      exit: (exit) => this.onExit(slot, exit),
    });
    this.slots.add(slot);
    return slot;
  }

  private start(slot: Slot, job: Job): void {
    // A batch sent again (its worker died, or the batch ahead of it was cancelled) whose large
    // arguments had been moved to that worker: there is nothing left to send, so say so.
    const { packed } = job.batch;
    if (packed instanceof Uint8Array && packed.byteLength === 0) {
      job.reject(this.neverStarted(job, 'its arguments had been moved to a worker that stopped before starting them'));
      this.pump();
      return;
    }
    const defs = job.batch.defs.filter((def) => !slot.known.has(def.id));
    try {
      // Sent at once: the channel holds it until the runtime listens, so start-up overlaps the send.
      // The packed arguments move rather than copy: nothing here reads them again.
      slot.handle.send({ type: 'batch', batch: { ...job.batch, defs } }, transferable(job.batch.packed));
    } catch (error) {
      // The transport refused to clone the plain arguments (a symbol, say): the run sends them
      // again serialized. Anything else refused (a def) is the batch's failure.
      job.reject(job.batch.args !== undefined ? new TransportRefusedError(error) : error);
      this.pump();
      return;
    }
    for (const def of defs) slot.known.add(def.id);
    slot.tasks += job.batch.indices.length;
    slot.jobs.push(job);
    this.running.set(job.batch.id, slot);
    slot.handle.ref();
    // Its clock starts when the worker reaches it: now, if it is the worker's only batch.
    if (slot.ready && slot.jobs.length === 1) job.events?.onStart?.();
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'ready') {
      slot.ready = true;
      slot.jobs[0]?.events?.onStart?.();
      return;
    }
    if (message.type === 'ref') return referenceKind(message.kind).receive?.(message.body);
    if (message.type === 'log') return void process.stderr.write(message.text);
    if (message.type === 'rejection') return this.lateFailure(slot, message.batchId, message.result);
    if (message.type !== 'reply') return;
    if (slot.dropped.delete(message.batchId)) return;
    const job = slot.jobs[0];
    if (!job || job.batch.id !== message.batchId) return;
    slot.jobs.shift();
    this.running.delete(job.batch.id);
    if (job.events?.onLateFailure) {
      slot.answered.push(job);
      if (slot.answered.length > ANSWERED_KEPT) slot.answered.shift();
    }
    // The worker moves on to the next batch in its port: that one's clock starts now.
    slot.jobs[0]?.events?.onStart?.();
    if (!slot.jobs.length) slot.handle.unref();
    // The worker's reply is the batch's answer: only the backend's own number for the worker is added.
    const { type: _type, batchId: _batchId, memory, ...reply } = message;
    job.resolve({ ...reply, worker: slot.id });
    if ((this.maxTasks !== undefined && slot.tasks >= this.maxTasks) || (this.maxMemory !== undefined && memory !== undefined && memory > this.maxMemory)) {
      slot.draining = true;
    }
    if (slot.draining && !slot.jobs.length) void this.retire(slot);
    this.pump();
  }

  /** A task of an answered batch failed after all (a rejection it left): its run is told, else a warning says so. */
  private lateFailure(slot: Slot, batchId: number, result: WireResult): void {
    const job = slot.answered.find((answered) => answered.batch.id === batchId);
    if (job) return job.events!.onLateFailure!(result);
    const what = result.ok ? '' : result.kind === 'thrown' && result.record ? `: ${result.record.name}: ${result.record.message}` : '';
    process.emitWarning(`Task ${result.index} (batch ${batchId}) of an earlier run left a promise that rejected with no handler${what}`, 'JobletWarning');
  }

  private onExit(slot: Slot, exit: WorkerExit): void {
    this.slots.delete(slot);
    if (slot.retired) return;
    const job = slot.jobs.shift();
    if (job) {
      this.running.delete(job.batch.id);
      const { indices } = job.batch;
      // Where the worker was in this batch, when it said: the task running names the crash, the
      // ones before it finished (their results died with it), the ones after it never started.
      const seen = exit.progress?.batchId === job.batch.id ? exit.progress : undefined;
      const finished = seen ? Math.min(seen.finished, indices.length) : 0;
      const started = seen ? Math.min(seen.started, indices.length) : 0;
      job.reject(
        new WorkerCrashedError({
          backend: this.name,
          exitCode: exit.code,
          signal: exit.signal,
          taskIndices: seen ? indices.slice(finished, started) : indices,
          reason: exit.reason,
          duringStartup: !slot.ready,
          outOfMemory: exit.outOfMemory,
          unreadable: exit.unreadable,
          memoryLimitMb: exit.memoryLimitMb,
          ...(seen && { resultsLost: indices.slice(0, finished), notStarted: indices.slice(started) }),
          thrownBy: exit.progress?.thrownBy,
        }),
      );
    }
    // The batches that waited behind it never started: they go to another worker.
    this.requeue(slot);
    this.pump();
  }

  /** Put the batches waiting in a worker's port back at the front of the queue, in order. */
  private requeue(slot: Slot): void {
    const waiting = slot.jobs.splice(0);
    for (const job of waiting) this.running.delete(job.batch.id);
    this.queue.requeue(waiting);
  }

  private retire(slot: Slot): Promise<void> {
    slot.retired = true;
    this.slots.delete(slot);
    slot.handle.unref();
    return slot.handle.terminate();
  }
}
