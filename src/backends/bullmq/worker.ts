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
import { WorkerCrashedError } from '../../errors.js';
import type { Backend } from '../types.js';
import type { WireBatch } from '../../runtime/protocol.js';
import { createThreadsBackend } from '../threads.js';
import { createProcessesBackend } from '../processes.js';
import { openJob, sealReply, RefusedJobError, type JobData, type ReplyBody } from './envelope.js';
import { HEARTBEAT_EVERY_MS, HEARTBEAT_TTL_MS, heartbeatKey, REPLY_TTL_MS, replyKey } from './keys.js';
import type { RedisOptions } from 'ioredis';

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
  log?: (line: string) => void;
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
    if (mine === undefined) runs.set(key, (mine = nextRun++));
    return mine;
  };
  let redis: Redis | undefined;

  const process_ = async (job: Job<JobData>): Promise<string> => {
    const jobId = job.id!;
    let batch: WireBatch;
    try {
      batch = openJob(secret, queue, jobId, job.data);
    } catch (error) {
      if (options.verbose || error instanceof RefusedJobError) log(error instanceof Error ? error.message : String(error));
      throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
    }
    const begun = performance.now();
    const localBatch: WireBatch = { ...batch, id: nextBatch++ };
    if (batch.run !== undefined) localBatch.run = localRun(job.data.producer, batch.run);
    let body: ReplyBody;
    try {
      body = { reply: await local.submit(localBatch) };
    } catch (error) {
      body =
        error instanceof WorkerCrashedError
          ? { crashed: { exitCode: error.exitCode, signal: error.signal, reason: error.message, taskIndices: error.taskIndices } }
          : { error: { name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) } };
    }
    let stored: Buffer;
    try {
      stored = sealReply(secret, queue, jobId, body);
    } catch (error) {
      stored = sealReply(secret, queue, jobId, { error: { name: 'DataCloneError', message: `the reply could not be serialized: ${(error as Error).message}` } });
    }
    await redis!.set(replyKey(queue, jobId), stored, 'PX', REPLY_TTL_MS);
    if (options.verbose) log(`joblet worker: batch ${jobId} (${batch.indices.length} tasks) in ${(performance.now() - begun).toFixed(1)} ms`);
    return 'replied';
  };

  const worker = new Worker<JobData, string>(queue, process_, {
    connection: { ...options.connection, maxRetriesPerRequest: null },
    concurrency,
    autorun: false,
  });
  worker.on('error', (error) => log(`joblet worker: ${error.message}`));
  await worker.waitUntilReady();
  redis = (await worker.client) as Redis;
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
        await local.terminate();
      })()),
  };
}
