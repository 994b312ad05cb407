import { AbortError, WorkerCrashedError } from '../errors.js';
import type { FromWorker, ToWorker, WireBatch, WireReply } from '../runtime/protocol.js';
import type { Backend, BackendCapabilities, BatchEvents } from './types.js';
import { transferable } from '../runtime/transfer.js';

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
}

export interface WorkerEvents {
  message(message: FromWorker): void;
  exit(exit: WorkerExit): void;
}

export type SpawnWorker = (events: WorkerEvents) => WorkerHandle;

interface Job {
  batch: WireBatch;
  events: BatchEvents | undefined;
  resolve(reply: WireReply): void;
  reject(reason: unknown): void;
}

interface Slot {
  handle: WorkerHandle;
  /** Def ids this worker has received. */
  known: Set<string>;
  job: Job | undefined;
  /** The runtime has loaded; until then a batch waits in the channel and its clock has not started. */
  ready: boolean;
  /** Set when the pool itself stops the worker, so its exit is not a crash. */
  retired: boolean;
}

/**
 * A pool of workers behind the Backend interface, shared by the threads and
 * processes backends (tinypool's seam): they differ only in how a worker is
 * spawned. Workers start lazily, one batch each at a time; a worker that
 * dies fails its batch with WorkerCrashedError and is replaced on demand.
 */
export class WorkerPool implements Backend {
  private readonly queue: Job[] = [];
  private readonly slots = new Set<Slot>();
  private readonly running = new Map<number, Slot>();
  private terminated = false;

  constructor(
    readonly name: string,
    readonly nWorkers: number,
    readonly capabilities: BackendCapabilities,
    private readonly spawn: SpawnWorker,
  ) {}

  submit(batch: WireBatch, events?: BatchEvents): Promise<WireReply> {
    if (this.terminated) return Promise.reject(new AbortError(`The ${this.name} pool was closed; create a new Parallel.`));
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, events, resolve, reject });
      this.pump();
    });
  }

  cancel(batchId: number, reason: unknown): void {
    const queued = this.queue.findIndex((job) => job.batch.id === batchId);
    if (queued >= 0) {
      this.queue.splice(queued, 1)[0]!.reject(reason);
      return;
    }
    const slot = this.running.get(batchId);
    if (!slot?.job) return;
    const { job } = slot;
    this.finish(slot);
    job.reject(reason);
    // The only way to stop code running in a worker is to stop the worker.
    this.retire(slot);
    this.pump();
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
    this.terminated = true;
    const closed = new AbortError(`The ${this.name} pool was closed while the task was pending.`);
    for (const job of this.queue.splice(0)) job.reject(closed);
    const stopping: Promise<void>[] = [];
    for (const slot of [...this.slots]) {
      const { job } = slot;
      this.finish(slot);
      job?.reject(closed);
      stopping.push(this.retire(slot));
    }
    await Promise.all(stopping);
  }

  private pump(): void {
    while (this.queue.length && !this.terminated) {
      let slot = [...this.slots].find((s) => !s.job);
      if (!slot && this.slots.size < this.nWorkers) {
        try {
          slot = this.startWorker();
        } catch (error) {
          // The worker could not even be created: fail the job that needed it, never leave it queued.
          const job = this.queue.shift()!;
          job.reject(
            new WorkerCrashedError({
              backend: this.name,
              exitCode: null,
              signal: null,
              taskIndices: job.batch.indices,
              reason: error instanceof Error ? error.message : String(error),
              duringStartup: true,
            }),
          );
          continue;
        }
      }
      if (!slot) return;
      this.start(slot, this.queue.shift()!);
    }
  }

  private startWorker(): Slot {
    const slot: Slot = { handle: undefined as unknown as WorkerHandle, known: new Set(), job: undefined, ready: false, retired: false };
    slot.handle = this.spawn({
      message: (message) => this.onMessage(slot, message),
      exit: (exit) => this.onExit(slot, exit),
    });
    this.slots.add(slot);
    return slot;
  }

  private start(slot: Slot, job: Job): void {
    const defs = job.batch.defs.filter((def) => !slot.known.has(def.id));
    for (const def of defs) slot.known.add(def.id);
    slot.job = job;
    this.running.set(job.batch.id, slot);
    slot.handle.ref();
    // Sent at once: the channel holds it until the runtime listens, so start-up overlaps the send.
    // The packed arguments move rather than copy: nothing here reads them again.
    slot.handle.send({ type: 'batch', batch: { ...job.batch, defs } }, transferable(job.batch.packed));
    if (slot.ready) job.events?.onStart?.();
  }

  private finish(slot: Slot): void {
    if (slot.job) this.running.delete(slot.job.batch.id);
    slot.job = undefined;
    slot.handle.unref();
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'ready') {
      slot.ready = true;
      slot.job?.events?.onStart?.();
      return;
    }
    if (message.type !== 'reply') return;
    const { job } = slot;
    if (!job || job.batch.id !== message.batchId) return;
    this.finish(slot);
    job.resolve({ packed: message.packed, failures: message.failures, results: message.results });
    this.pump();
  }

  private onExit(slot: Slot, exit: WorkerExit): void {
    this.slots.delete(slot);
    if (slot.retired) return;
    const { job } = slot;
    this.finish(slot);
    if (job) {
      job.reject(
        new WorkerCrashedError({
          backend: this.name,
          exitCode: exit.code,
          signal: exit.signal,
          taskIndices: job.batch.indices,
          reason: exit.reason,
          duringStartup: !slot.ready,
        }),
      );
    }
    this.pump();
  }

  private retire(slot: Slot): Promise<void> {
    slot.retired = true;
    this.slots.delete(slot);
    return slot.handle.terminate();
  }
}

