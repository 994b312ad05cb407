/**
 * A batch and its reply as they sit in Redis: the runtime's WireBatch / WireReply in V8's
 * serialization (what child_process's 'advanced' IPC uses, so a batch carries exactly what it
 * carries to a process worker), signed. Nothing is deserialized before its signature checks.
 * The batch's defs are not inside: each is a blob named by its hash (uploaded once, fetched
 * once per worker process), and large binary parts of a batch or a reply are blobs too
 * (outOfBand.ts); the signed bytes name every hash, so the signature covers them.
 */
import { readFileSync } from 'node:fs';
import type { WireBatch, WireReply } from '../../runtime/protocol.js';
import type { BlobRef } from './blobs.js';
import { decodeFramed, encodeFramed, framedBlobs, type Extracted } from './outOfBand.js';
import { sign, verify } from './signing.js';

/** Bump when the job or reply layout changes: a worker refuses a job of another protocol. */
export const PROTOCOL = 4; // 4: a list copy begins with a stamp and may hold 32-bit integers
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

/** A def of the batch, stored as a blob: its id, and where its bytes are. */
export interface DefRef {
  id: string;
  blob: BlobRef;
}

/** What a job carries, signed: the batch (its `defs` empty: they are `defRefs`), and the per-task clock the worker enforces. */
export interface JobBody {
  batch: WireBatch;
  defRefs: DefRef[];
  /** The run's `timeout` (then the batch holds one task): the worker stops the task past it. */
  timeoutMs?: number | undefined;
}

/** What a worker answers: the local pool's reply, or how the batch failed or stopped there. */
export type Outcome =
  | { reply: WireReply }
  | {
      crashed: {
        exitCode: number | null;
        signal: string | null;
        reason?: string | undefined;
        taskIndices: number[];
        /** What the local pool knew of the batch's other tasks (WorkerCrashedError's fields of the same names). */
        resultsLost?: number[] | undefined;
        notStarted?: number[] | undefined;
        thrownBy?: number | undefined;
        outOfMemory?: boolean | undefined;
        memoryLimitMb?: number | undefined;
      };
    }
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

/** The job's data, and the blobs (large arguments) it refers to, to store before the job is added. */
export function sealJob(secret: Uint8Array, queue: string, jobId: string, producer: string, body: JobBody): { data: JobData; blobs: Extracted[] } {
  const { bytes, blobs } = encodeFramed(body, producer);
  return { data: { protocol: PROTOCOL, joblet: JOBLET_VERSION, producer, body: bytes.toString('base64'), sig: sign(secret, 'job', queue, jobId, bytes).toString('base64') }, blobs };
}

/** A job whose signature checks: the blobs it names, and its body once their bytes are fetched. Throws RefusedJobError (naming the cause) otherwise. */
export function openJob(secret: Uint8Array, queue: string, jobId: string, data: Partial<JobData> | undefined): { blobs: BlobRef[]; open(blobs: readonly Buffer[]): JobBody } {
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
  return { blobs: framedBlobs(body), open: (blobs) => decodeFramed(body, blobs) as JobBody };
}

/** The reply as stored (32 bytes of signature, then the framed bytes), and the blobs (large results) it refers to, owned by `owner`. */
export function sealReply(secret: Uint8Array, queue: string, jobId: string, reply: ReplyBody, owner: string): { stored: Buffer; blobs: Extracted[] } {
  const { bytes, blobs } = encodeFramed(reply, owner);
  return { stored: Buffer.concat([sign(secret, 'reply', queue, jobId, bytes), bytes]), blobs };
}

/** A reply whose signature checks: the blobs it names, and its body once their bytes are fetched. */
export function openReply(secret: Uint8Array, queue: string, jobId: string, stored: Buffer): { blobs: BlobRef[]; open(blobs: readonly Buffer[]): ReplyBody } {
  const body = stored.subarray(32);
  if (!verify(secret, 'reply', queue, jobId, body, stored.subarray(0, 32))) {
    throw new RefusedJobError(`joblet refused the reply to job ${jobId}: bad signature (altered, or signed with another secret). It was not deserialized.`);
  }
  return { blobs: framedBlobs(body), open: (blobs) => decodeFramed(body, blobs) as ReplyBody };
}
