/**
 * `joblet worker`: takes batches from a BullMQ queue and runs each on a local joblet pool
 * (threads or processes), so that a crashing task is contained there and this process's event
 * loop stays free for BullMQ's lock renewal. Every job's signature is checked before anything
 * of it is deserialized; a refused job fails (unrecoverable) and the worker goes on.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { AbortError, TimeoutError, WorkerCrashedError } from '../../errors.js';
import type { Backend, BatchEvents } from '../types.js';
import type { WireBatch } from '../../runtime/protocol.js';
import { createThreadsBackend } from '../threads.js';
import { createProcessesBackend } from '../processes.js';
import { BlobError, fetchBlob, putBlob } from './blobs.js';
import { DefCache } from './defCache.js';
import { openJob, sealReply, RefusedJobError, type JobBody, type JobData, type Outcome, type ReplyBody } from './envelope.js';
import { cancelChannel, cancelKey, HEARTBEAT_EVERY_MS, HEARTBEAT_TTL_MS, heartbeatKey, releaseChannel, REPLY_TTL_MS, replyKey, replyOwner } from './keys.js';
import { relayReceives } from './relay.js';
import type { RedisOptions } from 'ioredis';

/** The producers' runs a worker remembers (each maps to a local run number). */
const MAX_RUNS = 10_000;

export interface WorkerOptions {
  connection: RedisOptions;
  /** The connection as a person reads it (no password), for the ready line. */
  where: string;
  queue: string;
  secret: Buffer;
  /** Batches run at once (each on its own local worker). */
  concurrency: number;
  pool: 'threads' | 'processes';
  /** One line per batch on stderr. */
  verbose?: boolean;
  /**
   * The most bytes of defs (task functions, persisted values, large arguments shared for a run)
   * kept between batches; the least recently used go first. @default 1 GiB
   */
  cacheBytes?: number | undefined;
  log?: (line: string) => void;
  /**
   * BullMQ's lock on a running job, in ms: renewed every half of it while this process lives. When
   * the process dies, another worker takes the job back once the lock expired (checked every
   * `stalledInterval` ms) and runs the batch again, at most `maxStalledCount` times.
   */
  lockDuration?: number | undefined;
  stalledInterval?: number | undefined;
  maxStalledCount?: number | undefined;
}

export interface RunningWorker {
  readonly id: string;
  /** Finish the batches in hand, stop taking new ones, and disconnect. */
  close(): Promise<void>;
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { Worker, UnrecoverableError } = await import('bullmq');
  const { queue, secret, concurrency } = options;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const local: Backend = (options.pool === 'processes' ? createProcessesBackend : createThreadsBackend)({ nWorkers: concurrency, perWorkerBufferSize: 0 });
  // Batch ids and run numbers are the producer's: each gets a local one, so two producers never meet.
  let nextBatch = 0;
  let nextRun = 0;
  const runs = new Map<string, number>();
  const localRun = (producer: string, run: number) => {
    const key = `${producer}/${run}`;
    let mine = runs.get(key);
    if (mine === undefined) {
      runs.set(key, (mine = nextRun++));
      // Bounded for a worker that serves for months: a run this old is over (at worst, a batch of it
      // that still comes gets its closures rebuilt once more).
      if (runs.size > MAX_RUNS) runs.delete(runs.keys().next().value!);
    }
    return mine;
  };
  let redis: Redis | undefined;
  const defs = new DefCache(
    options.cacheBytes ?? 1024 ** 3,
    (blob) => fetchBlob(redis!, queue, blob),
    (ids) => local.release(ids),
  );
  /** Jobs running here, by id: their local batch's id, for a cancel message, and whether one came. */
  const running = new Map<string, { localId: number; cancelled: boolean }>();
  const relay = relayReceives();

  /** The local pool's answer to a batch, stopped past `timeoutMs` (counted from its local start). */
  const runLocal = async (batch: WireBatch, timeoutMs: number | undefined): Promise<Outcome> => {
    let timer: NodeJS.Timeout | undefined;
    const events: BatchEvents | undefined = timeoutMs
      ? { alone: true, onStart: () => void (timer = setTimeout(() => local.cancel(batch.id, new TimeoutError(batch.indices[0]!, timeoutMs)), timeoutMs)) }
      : undefined;
    try {
      return { reply: await local.submit(batch, events) };
    } catch (error) {
      if (error instanceof TimeoutError) return { timeout: { index: error.taskIndex ?? batch.indices[0]!, ms: timeoutMs! } };
      if (error instanceof AbortError) return { cancelled: true };
      if (error instanceof WorkerCrashedError) {
        // All the local pool knew: which task crashed, which had finished (results lost) and which had
        // not started (a settled run sends those again, as new jobs).
        const { exitCode, signal, taskIndices, resultsLost, notStarted, thrownBy, outOfMemory, memoryLimitMb } = error;
        return { crashed: { exitCode, signal, reason: error.message, taskIndices, resultsLost, notStarted, thrownBy, outOfMemory, memoryLimitMb } };
      }
      return { error: { name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) } };
    } finally {
      clearTimeout(timer);
    }
  };

  const process_ = async (job: Job<JobData>): Promise<string> => {
    const jobId = job.id!;
    let body: JobBody;
    const refuse = (error: unknown) => {
      if (options.verbose || error instanceof RefusedJobError || error instanceof BlobError) log(error instanceof Error ? error.message : String(error));
      return new UnrecoverableError(error instanceof Error ? error.message : String(error));
    };
    try {
      const opened = openJob(secret, queue, jobId, job.data);
      // Large arguments came as blobs, each checked against the hash the signed job names.
      body = opened.open(await Promise.all(opened.blobs.map((blob) => fetchBlob(redis!, queue, blob))));
    } catch (error) {
      throw refuse(error);
    }
    const { batch, timeoutMs, defRefs } = body;
    const begun = performance.now();
    const before = defs.stats();
    const localBatch: WireBatch = { ...batch, id: nextBatch++ };
    if (batch.run !== undefined) localBatch.run = localRun(job.data.producer, batch.run);
    // Registered before the cancel key is read: a cancel published after the read finds the job here.
    const entry = { localId: localBatch.id, cancelled: false };
    running.set(jobId, entry);
    let outcome: Outcome;
    try {
      // The message may also come between the read and the local submit (or while the defs are fetched): hence `cancelled`.
      if ((await redis!.del(cancelKey(queue, jobId))) || entry.cancelled) outcome = { cancelled: true };
      else {
        try {
          localBatch.defs = await defs.pin(defRefs);
        } catch (error) {
          throw refuse(error);
        }
        try {
          outcome = entry.cancelled ? { cancelled: true } : await runLocal(localBatch, timeoutMs);
        } finally {
          defs.unpin(defRefs);
        }
      }
    } finally {
      running.delete(jobId);
    }
    const reply: ReplyBody = { ...outcome, worker: id, relayed: relay.take(localBatch) };
    let sealed: ReturnType<typeof sealReply>;
    try {
      sealed = sealReply(secret, queue, jobId, reply, replyOwner(jobId));
    } catch (error) {
      sealed = sealReply(secret, queue, jobId, { error: { name: 'DataCloneError', message: `the reply could not be serialized: ${(error as Error).message}` } }, replyOwner(jobId));
    }
    // Large results first, as blobs of the job's own (the producer deletes them once read): then the reply that names them.
    await Promise.all(sealed.blobs.map((blob) => putBlob(redis!, queue, blob.ref, blob.bytes, REPLY_TTL_MS)));
    await redis!.set(replyKey(queue, jobId), sealed.stored, 'PX', REPLY_TTL_MS);
    if (options.verbose) {
      const how = 'reply' in outcome ? '' : ` (${Object.keys(outcome)[0]})`;
      const after = defs.stats();
      const fetched = after.fetches - before.fetches;
      const defsLine = `; defs: fetched ${fetched} (${after.fetchedBytes - before.fetchedBytes} bytes), total fetched ${after.fetches} (${after.fetchedBytes} bytes), cached ${after.entries} (${after.bytes} bytes)`;
      log(`joblet worker: batch ${jobId} (${batch.indices.length} tasks) in ${(performance.now() - begun).toFixed(1)} ms${how}${defsLine}`);
    }
    return 'replied';
  };

  const worker = new Worker<JobData, string>(queue, process_, {
    connection: { ...options.connection, maxRetriesPerRequest: null },
    concurrency,
    autorun: false,
    ...(options.lockDuration !== undefined && { lockDuration: options.lockDuration }),
    ...(options.stalledInterval !== undefined && { stalledInterval: options.stalledInterval }),
    ...(options.maxStalledCount !== undefined && { maxStalledCount: options.maxStalledCount }),
  });
  worker.on('error', (error) => log(`joblet worker: ${error.message}`));
  await worker.waitUntilReady();
  redis = (await worker.client) as Redis;
  // A producer that cancels a job this process runs says so here: the local batch is stopped (its local worker replaced).
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === releaseChannel(queue)) {
      try {
        const ids = JSON.parse(message) as unknown;
        if (Array.isArray(ids)) defs.release(ids.filter((id): id is string => typeof id === 'string'));
      } catch {
        /* not ours */
      }
      return;
    }
    const jobId = message;
    const entry = running.get(jobId);
    if (!entry) return;
    entry.cancelled = true;
    local.cancel(entry.localId, new AbortError(`Batch ${jobId} was cancelled by its producer.`));
  });
  await subscriber.subscribe(cancelChannel(queue), releaseChannel(queue));
  const beat = () => redis!.set(heartbeatKey(queue, id), String(concurrency), 'PX', HEARTBEAT_TTL_MS).catch(() => {});
  await beat();
  const heartbeat = setInterval(beat, HEARTBEAT_EVERY_MS);
  void worker.run();
  log(`joblet worker ${id} ready: queue '${queue}' at ${options.where}, concurrency ${concurrency}, pool ${options.pool}`);

  let closing: Promise<void> | undefined;
  return {
    id,
    close: () =>
      (closing ??= (async () => {
        clearInterval(heartbeat);
        await redis!.del(heartbeatKey(queue, id)).catch(() => {});
        await worker.close();
        subscriber.disconnect();
        await local.terminate();
      })()),
  };
}
