/**
 * A batch and its reply as they sit in Redis: the runtime's WireBatch / WireReply in V8's
 * serialization (what child_process's 'advanced' IPC uses, so a batch carries exactly what it
 * carries to a process worker), signed. Nothing is deserialized before its signature checks.
 */
import { readFileSync } from 'node:fs';
import { serialize, deserialize } from 'node:v8';
import type { WireBatch, WireReply } from '../../runtime/protocol.js';
import { sign, verify } from './signing.js';

/** Bump when the job or reply layout changes: a worker refuses a job of another protocol. */
export const PROTOCOL = 2;
export const JOBLET_VERSION: string = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')).version;

/** A job's data (BullMQ stores it as JSON). */
export interface JobData {
  protocol: number;
  joblet: string;
  /** The producer's id: a worker keeps each producer's runs apart. */
  producer: string;
  /** The WireBatch's bytes, base64. */
  body: string;
  /** HMAC-SHA256 of the bytes, the queue and the job id, base64. */
  sig: string;
}

/** What a job carries, signed: the batch, and the per-task clock the worker enforces. */
export interface JobBody {
  batch: WireBatch;
  /** The run's `timeout` (then the batch holds one task): the worker stops the task past it. */
  timeoutMs?: number | undefined;
}

/** What a worker answers: the local pool's reply, or how the batch failed or stopped there. */
export type Outcome =
  | { reply: WireReply }
  | { crashed: { exitCode: number | null; signal: string | null; reason?: string | undefined; taskIndices: number[] } }
  | { error: { name: string; message: string } }
  | { timeout: { index: number; ms: number } }
  /** Its producer cancelled it (an abort, a failure elsewhere in the run): nobody reads this one. */
  | { cancelled: true };

/** A message a task's copy of a by-reference value sent its main side (a Counter's increment), relayed to the producer. */
export interface Relayed {
  kind: string;
  body: unknown;
}

export type ReplyBody = Outcome & {
  /** The worker process that answered, for per-worker figures. */
  worker?: string;
  relayed?: Relayed[];
};

/** A job refused before any of it was deserialized. */
export class RefusedJobError extends Error {}

export function sealJob(secret: Uint8Array, queue: string, jobId: string, producer: string, batch: WireBatch, timeoutMs?: number): JobData {
  const body = serialize({ batch, timeoutMs } satisfies JobBody);
  return { protocol: PROTOCOL, joblet: JOBLET_VERSION, producer, body: body.toString('base64'), sig: sign(secret, 'job', queue, jobId, body).toString('base64') };
}

/** The batch of a job whose signature checks; throws RefusedJobError (naming the cause) otherwise. */
export function openJob(secret: Uint8Array, queue: string, jobId: string, data: Partial<JobData> | undefined): JobBody {
  if (!data || typeof data.body !== 'string') throw new RefusedJobError(`joblet refused job ${jobId}: it is not a joblet job (no body).`);
  const body = Buffer.from(data.body, 'base64');
  const signature = typeof data.sig === 'string' ? Buffer.from(data.sig, 'base64') : undefined;
  if (!verify(secret, 'job', queue, jobId, body, signature)) {
    throw new RefusedJobError(
      `joblet refused job ${jobId}: ${signature ? 'bad signature' : 'missing signature'} (the job was altered, or signed with another secret than this worker's). It was not deserialized.`,
    );
  }
  if (data.protocol !== PROTOCOL || data.joblet !== JOBLET_VERSION) {
    throw new RefusedJobError(
      `joblet refused job ${jobId}: it comes from joblet ${String(data.joblet)} (protocol ${String(data.protocol)}), this worker runs joblet ${JOBLET_VERSION} (protocol ${PROTOCOL}). Run the same joblet version on both sides.`,
    );
  }
  return deserialize(body) as JobBody;
}

/** The reply as stored: 32 bytes of signature, then the bytes. */
export function sealReply(secret: Uint8Array, queue: string, jobId: string, reply: ReplyBody): Buffer {
  const body = serialize(reply);
  return Buffer.concat([sign(secret, 'reply', queue, jobId, body), body]);
}

export function openReply(secret: Uint8Array, queue: string, jobId: string, stored: Buffer): ReplyBody {
  const body = stored.subarray(32);
  if (!verify(secret, 'reply', queue, jobId, body, stored.subarray(0, 32))) {
    throw new RefusedJobError(`joblet refused the reply to job ${jobId}: bad signature (altered, or signed with another secret). It was not deserialized.`);
  }
  return deserialize(body) as ReplyBody;
}
