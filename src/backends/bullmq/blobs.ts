/**
 * Large bytes in Redis by content address: a def (a task function, a persisted value, a large
 * argument shared for the run) or a large part of a job or a reply is stored once under the
 * SHA-256 of its bytes, in chunks, with a TTL. Whoever reads it checks the hash: a signed job or
 * reply names the hash, so its signature covers the bytes too.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';

/** Redis strings stay small enough to move without blocking the server or the client for long. */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** How long a blob lives without a refresh: its creator refreshes it while it is in use, and deletes it when done. */
export const BLOB_TTL_MS = 60 * 60 * 1000;
/** A part of a job or a reply at least this large travels as a blob rather than inside it. */
export const INLINE_MAX_BYTES = 1024 * 1024;

/** Where a blob is: its creator's key space (so one creator's delete never takes another's), its hash, its length. */
export interface BlobRef {
  owner: string;
  /** SHA-256 of the bytes, hex. */
  hash: string;
  length: number;
}

export const hashOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const chunkCount = (length: number) => Math.max(1, Math.ceil(length / CHUNK_BYTES));

export function blobKeys(queue: string, ref: BlobRef): string[] {
  return Array.from({ length: chunkCount(ref.length) }, (_, i) => `joblet:${queue}:blob:${ref.owner}:${ref.hash}:${i}`);
}

/** Every blob key of one owner (a reply's blobs, found again when its reply is dropped unread). */
export const ownerPattern = (queue: string, owner: string) => `joblet:${queue}:blob:${owner}:*`;

/** Store the bytes under `ref` (the chunks in one pipeline). */
export async function putBlob(redis: Redis, queue: string, ref: BlobRef, bytes: Uint8Array, ttlMs = BLOB_TTL_MS): Promise<void> {
  const pipeline = redis.pipeline();
  blobKeys(queue, ref).forEach((key, i) => {
    const start = i * CHUNK_BYTES;
    pipeline.set(key, Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.min(CHUNK_BYTES, bytes.byteLength - start)), 'PX', ttlMs);
  });
  await exec(pipeline);
}

/** Push a blob's expiry back; false when any chunk is gone (expired), so the caller stores it again. */
export async function touchBlob(redis: Redis, queue: string, ref: BlobRef, ttlMs = BLOB_TTL_MS): Promise<boolean> {
  const pipeline = redis.pipeline();
  for (const key of blobKeys(queue, ref)) pipeline.pexpire(key, ttlMs);
  return (await exec(pipeline)).every((answer) => answer === 1);
}

export async function deleteBlobs(redis: Redis, queue: string, refs: Iterable<BlobRef>): Promise<void> {
  const keys = [...refs].flatMap((ref) => blobKeys(queue, ref));
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}

/** A blob whose chunks are missing, or whose bytes do not have the hash that named them. */
export class BlobError extends Error {}

/** The blob's bytes, checked against its hash. */
export async function fetchBlob(redis: Redis, queue: string, ref: BlobRef): Promise<Buffer> {
  const pipeline = redis.pipeline();
  for (const key of blobKeys(queue, ref)) pipeline.getBuffer(key);
  const chunks = (await exec(pipeline)) as (Buffer | null)[];
  if (chunks.some((chunk) => chunk === null)) {
    throw new BlobError(`blob ${ref.hash.slice(0, 12)} of ${ref.owner} (${ref.length} bytes) is not in Redis: it expired, or its producer deleted it (closed, or the persisted value was closed).`);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks as Buffer[]);
  if (bytes.length !== ref.length || hashOf(bytes) !== ref.hash) {
    throw new BlobError(`blob ${ref.hash.slice(0, 12)} of ${ref.owner}: its bytes do not match the hash the signed job names (altered in Redis). It was not deserialized.`);
  }
  return bytes;
}

async function exec(pipeline: ChainableCommander): Promise<unknown[]> {
  const answers = (await pipeline.exec()) ?? [];
  const failed = answers.find(([error]) => error);
  if (failed) throw failed[0];
  return answers.map(([, answer]) => answer);
}
