import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { AbortError, JobletError, TimeoutError, WorkerCrashedError } from '../../errors.js';
import type { WireBatch, WireDef, WireReply } from '../../runtime/protocol.js';
import { TransportRefusedError, type Backend, type BackendOptions, type BatchEvents } from '../types.js';
import { BlobError, deleteBlobs, fetchBlob, hashOf, ownerPattern, type BlobRef } from './blobs.js';
import { openReply, sealJob, type DefRef, type ReplyBody } from './envelope.js';
import { HeldBlobs } from './heldBlobs.js';
import { cancelChannel, cancelKey, CANCEL_TTL_MS, jobIdOf, releaseChannel, replyKey, replyOwner } from './keys.js';
import { applyRelayed } from './relay.js';
import { countSlots } from './liveWorkers.js';
import { resolveOptions, type ResolvedOptions } from './options.js';

/** Connections of a busy backend, closed when it idles (an idle backend must not keep the process alive). */
interface Session {
  queue: Queue;
  events: QueueEvents;
  redis: Redis;
  sweep: NodeJS.Timeout;
}

interface Outstanding {
  batch: WireBatch;
  events: BatchEvents | undefined;
  resolve(reply: WireReply): void;
  reject(error: unknown): void;
  /** Being looked up: a wake-up and the sweep do not read the same reply twice. */
  checking: boolean;
  started: boolean;
}

/** How often outstanding jobs are looked at without a wake-up, and how long an idle session lingers. */
const SWEEP_MS = 1_000;
const IDLE_MS = 250;
/** How long close() waits for the batches still running to end, so their replies can be deleted (else they expire). */
const CLOSE_GRACE_MS = 5_000;

/**
 * Batches as BullMQ jobs on Redis, run by `joblet worker` processes (one job per batch). The
 * QueueEvents stream is only a wake-up: a reply is read from its own key, and a sweep looks
 * at every outstanding job, so a lost event costs a delay, never a hang.
 */
export class BullmqBackend implements Backend {
  readonly name = 'bullmq';
  // A job costs about a millisecond of Redis round trips and its reply waits for the whole batch:
  // batches of 0.2-1 s (joblib's dask backend aims at the same) keep that under 1%.
  readonly capabilities = { sharedMemory: false, isolation: 'process', clonesMessages: true, remote: true, batchDurationMs: { min: 200, target: 500, max: 1000 } } as const;
  nWorkers: number;
  private readonly options: ResolvedOptions;
  private readonly producer = randomBytes(6).toString('hex');
  private readonly outstanding = new Map<string, Outstanding>();
  /** Cancelled jobs a worker had started: their replies are deleted when they come. */
  private readonly abandoned = new Set<string>();
  /** Jobs being added: a cancel waits for the add before it removes the job. */
  private readonly adding = new Map<string, Promise<unknown>>();
  private readonly workerNumbers = new Map<string, number>();
  /** Defs sent so far, each stored once as a blob (its V8 bytes), by def id: workers fetch each once. */
  private readonly defs = new Map<string, BlobRef>();
  /** What this producer stored in Redis: defs and jobs' large arguments. */
  private readonly blobs: HeldBlobs;
  private session: Promise<Session> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private preparing = 0;
  private closed = false;

  constructor(private readonly wanted: BackendOptions) {
    this.options = resolveOptions(wanted.backendOptions);
    this.blobs = new HeldBlobs(this.options.queue);
    this.nWorkers = wanted.nJobs !== undefined && wanted.nJobs > 0 ? wanted.nJobs : 1;
  }

  /** Before a run: wait for live workers; a negative nJobs counts back from the slots they advertise. */
  async prepare(): Promise<void> {
    this.preparing++;
    try {
      const { redis } = await this.connect();
      const deadline = Date.now() + this.options.workerWaitMs;
      let slots = await countSlots(redis, this.options.queue);
      while (!slots && Date.now() < deadline && !this.closed) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        slots = await countSlots(redis, this.options.queue);
      }
      if (!slots) throw this.noWorker();
      const nJobs = this.wanted.nJobs ?? -1;
      this.nWorkers = nJobs > 0 ? nJobs : Math.max(1, slots + 1 + nJobs);
    } finally {
      this.preparing--;
      this.idleSoon();
    }
  }

  submit(batch: WireBatch, events?: BatchEvents): Promise<WireReply> {
    if (this.closed) return Promise.reject(new AbortError('The bullmq backend was closed.'));
    const jobId = jobIdOf(this.producer, batch.id);
    // Serialized now, so a value the transport refuses (a symbol) fails before anything is sent.
    let data: ReturnType<typeof sealJob>['data'];
    let needs: BlobRef[];
    try {
      const defRefs = batch.defs.map((def) => this.defRef(def));
      const sealed = sealJob(this.options.secret, this.options.queue, jobId, this.producer, { batch: { ...batch, defs: [] }, defRefs, timeoutMs: events?.timeoutMs });
      data = sealed.data;
      for (const blob of sealed.blobs) this.blobs.hold(blob.ref, jobId, () => blob.bytes);
      needs = [...defRefs.map((def) => def.blob), ...sealed.blobs.map((blob) => blob.ref)];
    } catch (error) {
      this.freeJob(jobId);
      // Plain arguments V8 cannot clone (a symbol): the run sends them serialized, which names the task and the path.
      return Promise.reject(batch.args !== undefined ? new TransportRefusedError(error) : error);
    }
    return new Promise<WireReply>((resolve, reject) => {
      this.outstanding.set(jobId, { batch, events, resolve, reject, checking: false, started: false });
      clearTimeout(this.idleTimer);
      const added = this.connect()
        .then(async ({ queue, redis }) => {
          // The defs and large arguments first: a worker may take the job as soon as it is added.
          if (this.outstanding.has(jobId)) await this.blobs.ensure(redis, needs);
          // Cancelled before it was sent: nothing to send, nothing to clean.
          if (!this.outstanding.has(jobId)) return void this.abandoned.delete(jobId);
          return queue.add('batch', data, { jobId, removeOnComplete: true, removeOnFail: { age: 3600 } });
        })
        .catch((error) => this.settle(jobId, undefined, error))
        .finally(() => this.adding.delete(jobId));
      this.adding.set(jobId, added);
    });
  }

  cancel(batchId: number, reason: unknown): void {
    const jobId = jobIdOf(this.producer, batchId);
    if (!this.outstanding.has(jobId)) return;
    this.settle(jobId, undefined, reason);
    // A waiting job is removed. A running one is told to stop: a worker about to start it finds the
    // cancel key, one running it gets the message and stops its local batch; either replies
    // 'cancelled', and that reply is deleted when it comes.
    this.abandoned.add(jobId);
    const added = this.adding.get(jobId) ?? Promise.resolve();
    void added
      .then(() => this.session)
      .then(async (session) => {
        if (!session || !this.abandoned.has(jobId)) return;
        const opened = await session;
        if (await this.removeJob(opened, jobId)) this.abandoned.delete(jobId);
        else await this.tellToStop(opened, jobId);
        this.idleSoon();
      })
      .catch(() => {});
  }

  /**
   * The run ended or a persisted handle closed: the defs' blobs are deleted, and the workers told
   * to forget the defs (a worker also bounds what it keeps, for a producer that never says so).
   */
  release(defIds: readonly string[]): void {
    if (this.closed) return;
    const ids = defIds.filter((id) => this.defs.has(id));
    if (!ids.length) return;
    const freed = ids.flatMap((id) => (this.defs.delete(id), this.blobs.drop(`def:${id}`)));
    clearTimeout(this.idleTimer);
    void this.connect()
      .then(async ({ redis }) => {
        await this.blobs.delete(redis, freed);
        await redis.publish(releaseChannel(this.options.queue), JSON.stringify(ids));
      })
      .catch(() => {})
      .finally(() => this.idleSoon());
  }

  /** A def as a blob of its V8 bytes, stored once (by the first job that needs it) and named by its hash. */
  private defRef(def: WireDef): DefRef {
    let blob = this.defs.get(def.id);
    if (!blob) {
      let bytes: Buffer | undefined = serialize(def);
      blob = { owner: this.producer, hash: hashOf(bytes), length: bytes.length };
      this.defs.set(def.id, blob);
      // The bytes are kept until stored; stored again (if it expired while idle) from the def.
      this.blobs.hold(blob, `def:${def.id}`, () => {
        const once = bytes ?? serialize(def);
        bytes = undefined;
        return once;
      });
    }
    return { id: def.id, blob };
  }

  /** A job settled: its large arguments are deleted. */
  private freeJob(jobId: string): void {
    const freed = this.blobs.drop(jobId);
    if (!freed.length) return;
    const session = this.session;
    if (session) void session.then(({ redis }) => this.blobs.delete(redis, freed)).catch(() => {});
  }

  async terminate(): Promise<void> {
    this.closed = true;
    const closed = new AbortError('The bullmq backend was closed while the task was pending.');
    const ids = [...this.outstanding.keys()];
    for (const id of ids) this.settle(id, undefined, closed);
    await Promise.allSettled([...this.adding.values()]);
    // A session is needed to clean what cancelled runs left running, and the blobs, even if it had idled away.
    const session = this.session ?? (this.abandoned.size || this.blobs.size ? this.connect() : undefined);
    if (session) await this.close(session, ids);
    this.session = undefined;
  }

  private connect(): Promise<Session> {
    if (!this.session) {
      const session = this.open();
      this.session = session;
      // A failed connection is not kept: the next run tries again.
      session.catch(() => {
        if (this.session === session) this.session = undefined;
      });
    }
    return this.session;
  }

  private async open(): Promise<Session> {
    const { Queue, QueueEvents } = await import('bullmq');
    const { connection, queue: name } = this.options;
    const queue = new Queue(name, { connection: { ...connection } });
    const events = new QueueEvents(name, { connection: { ...connection, maxRetriesPerRequest: null } });
    queue.on('error', () => {});
    events.on('error', () => {});
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    } catch (error) {
      await Promise.allSettled([queue.close(), events.close()]);
      throw new JobletError(`The bullmq backend could not reach Redis at ${this.options.where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const redis = (await queue.client) as Redis;
    events.on('active', ({ jobId }) => this.started(jobId));
    events.on('completed', ({ jobId }) => void this.wake(jobId));
    events.on('failed', ({ jobId }) => void this.wake(jobId));
    const sweep = setInterval(() => {
      for (const jobId of this.outstanding.keys()) void this.check(jobId);
      for (const jobId of this.abandoned) void this.reap(jobId);
      void this.blobs.refresh(redis);
    }, SWEEP_MS);
    return { queue, events, redis, sweep };
  }

  private started(jobId: string): void {
    const entry = this.outstanding.get(jobId);
    if (!entry || entry.started) return;
    entry.started = true;
    entry.events?.onStart?.();
  }

  private wake(jobId: string): Promise<void> {
    return this.abandoned.has(jobId) ? this.reap(jobId) : this.check(jobId);
  }

  /** A cancelled job that was running: once it ended, delete its reply (or its failed record). */
  private async reap(jobId: string): Promise<void> {
    const session = this.session;
    // Still being added: its state would read 'unknown'.
    if (!session || this.adding.has(jobId)) return;
    try {
      const { redis, queue } = await session;
      const key = replyKey(this.options.queue, jobId);
      if (!(await redis.del(key))) {
        const state = await queue.getJobState(jobId);
        if (state === 'failed') await queue.remove(jobId);
        else if (state !== 'unknown') return;
        // Completed between the two reads: its reply is there now.
        else await redis.del(key);
      }
      await redis.del(cancelKey(this.options.queue, jobId));
      await this.deleteReplyBlobs(redis, jobId);
      this.abandoned.delete(jobId);
      this.idleSoon();
    } catch {
      /* tried again by the sweep */
    }
  }

  /** Look for a job's outcome: its reply, its failure, or its loss. */
  private async check(jobId: string): Promise<void> {
    const entry = this.outstanding.get(jobId);
    const session = this.session;
    if (!entry || entry.checking || !session || this.adding.has(jobId)) return;
    entry.checking = true;
    try {
      const { redis, queue } = await session;
      const key = replyKey(this.options.queue, jobId);
      let stored = await redis.getBuffer(key);
      if (!stored) {
        const state = await queue.getJobState(jobId);
        if (state === 'failed') {
          const job = await queue.getJob(jobId);
          await job?.remove().catch(() => {});
          return this.settle(jobId, undefined, this.failed(entry.batch, job?.failedReason ?? 'unknown reason'));
        }
        // The 'active' event is a wake-up too: a lost one must not leave the run's clock unstarted.
        if (state === 'active') this.started(jobId);
        if (state !== 'unknown') return;
        // Completed and removed between the two reads: the reply is there now, or it is lost.
        stored = await redis.getBuffer(key);
        if (!stored) {
          return this.settle(jobId, undefined, new JobletError(`The reply to batch ${jobId} (tasks ${entry.batch.indices.join(', ')}) was lost: its job left the queue without one.`));
        }
      }
      let blobs: BlobRef[] = [];
      let body: ReplyBody;
      try {
        const reply = openReply(this.options.secret, this.options.queue, jobId, stored);
        blobs = reply.blobs;
        body = reply.open(await Promise.all(blobs.map((blob) => fetchBlob(redis, this.options.queue, blob))));
      } catch (error) {
        if (!(error instanceof BlobError)) throw error;
        throw new JobletError(`The reply to batch ${jobId} (tasks ${entry.batch.indices.join(', ')}) could not be read: ${error.message}`, { cause: error });
      } finally {
        // Read once: the reply and its large results go (a reply refused unread too).
        await redis.del(key);
        if (blobs.length) await deleteBlobs(redis, this.options.queue, blobs);
      }
      this.started(jobId);
      this.settle(jobId, body);
    } catch (error) {
      this.settle(jobId, undefined, error);
    } finally {
      entry.checking = false;
    }
  }

  private settle(jobId: string, body: ReplyBody | undefined, error?: unknown): void {
    const entry = this.outstanding.get(jobId);
    if (!entry) return;
    this.outstanding.delete(jobId);
    this.freeJob(jobId);
    // A Counter's increments made by these tasks count before their results are seen.
    applyRelayed(body?.relayed);
    if (body && 'reply' in body) entry.resolve({ ...body.reply, worker: this.workerNumber(body.worker, body.reply.worker) });
    else if (body && 'timeout' in body) entry.reject(new TimeoutError(body.timeout.index, body.timeout.ms));
    else if (body && 'cancelled' in body) entry.reject(new AbortError(`Batch ${jobId} was cancelled.`));
    else if (body && 'crashed' in body) entry.reject(new WorkerCrashedError({ backend: 'bullmq', ...body.crashed }));
    else if (body && 'error' in body) entry.reject(new JobletError(`A joblet worker could not run batch ${jobId}: ${body.error.name}: ${body.error.message}`));
    else entry.reject(error);
    this.idleSoon();
  }

  /** One number per slot of each worker process, as a local pool numbers its workers (the profile counts per worker). */
  private workerNumber(process: string | undefined, slot: number | undefined): number | undefined {
    if (process === undefined) return slot;
    const key = `${process}#${slot ?? 0}`;
    let number = this.workerNumbers.get(key);
    if (number === undefined) this.workerNumbers.set(key, (number = this.workerNumbers.size));
    return number;
  }

  /** The cancel key (for a worker about to start the job) and the message (for one running it). */
  private async tellToStop(session: Session, jobId: string): Promise<void> {
    await session.redis.multi().set(cancelKey(this.options.queue, jobId), '1', 'PX', CANCEL_TTL_MS).publish(cancelChannel(this.options.queue), jobId).exec();
  }

  private failed(batch: WireBatch, reason: string): Error {
    if (/stalled/i.test(reason)) {
      return new WorkerCrashedError({ backend: 'bullmq', exitCode: null, signal: null, taskIndices: batch.indices, reason: `a joblet worker stopped during the batch: ${reason}` });
    }
    return new JobletError(`A joblet worker refused batch of tasks ${batch.indices[0]}..${batch.indices.at(-1)}: ${reason}`, { taskIndex: batch.indices[0] });
  }

  private noWorker(): JobletError {
    const { queue, where, workerWaitMs } = this.options;
    return new JobletError(
      `No joblet worker is serving queue '${queue}' at ${where} (waited ${workerWaitMs} ms). ` +
        `Start one with: npx joblet worker --redis ${where} --queue ${queue} --secret-file <file with the same secret>`,
    );
  }

  /** Close the connections once nothing is outstanding, so an idle Parallel lets the process exit. */
  private idleSoon(): void {
    clearTimeout(this.idleTimer);
    if (this.outstanding.size || this.abandoned.size || this.preparing || !this.session || this.closed) return;
    this.idleTimer = setTimeout(() => {
      const session = this.session;
      if (this.outstanding.size || this.abandoned.size || this.preparing || !session) return;
      this.session = undefined;
      void this.close(session, []);
    }, IDLE_MS);
  }

  /**
   * Remove a job that is not running, and any reply it left: BullMQ's remove also answers 1 for a
   * job already completed (and removed on completion), whose reply may be waiting. False while
   * a worker holds the job's lock.
   */
  private async removeJob(session: Session, jobId: string): Promise<boolean> {
    if (!(await session.queue.remove(jobId))) return false;
    await session.redis.del(replyKey(this.options.queue, jobId), cancelKey(this.options.queue, jobId));
    await this.deleteReplyBlobs(session.redis, jobId);
    return true;
  }

  /** The large results of a reply nobody reads (a cancelled job's), found by their owner. */
  private async deleteReplyBlobs(redis: Redis, jobId: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', ownerPattern(this.options.queue, replyOwner(jobId)), 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }

  private async close(session: Promise<Session>, removing: string[]): Promise<void> {
    let opened: Session;
    try {
      opened = await session;
    } catch {
      return;
    }
    await Promise.allSettled(
      removing.map(async (id) => {
        if (await this.removeJob(opened, id)) return;
        this.abandoned.add(id);
        await this.tellToStop(opened, id);
      }),
    );
    // Batches that were running when the run stopped: their replies are deleted as they come, for a while.
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (this.abandoned.size && Date.now() < deadline) {
      await Promise.all([...this.abandoned].map((id) => this.reap(id)));
      if (this.abandoned.size) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearInterval(opened.sweep);
    if (this.closed) {
      // Everything this producer stored, and the workers told to forget its defs.
      const ids = [...this.defs.keys()];
      this.defs.clear();
      await this.blobs.delete(opened.redis, this.blobs.dropAll()).catch(() => {});
      if (ids.length) await opened.redis.publish(releaseChannel(this.options.queue), JSON.stringify(ids)).catch(() => {});
    }
    await Promise.allSettled([opened.events.close(), opened.queue.close()]);
  }
}
