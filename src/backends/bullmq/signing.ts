import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a signature vouches for: a job sent to workers, or a worker's reply to one. */
export type Purpose = 'job' | 'reply';

/**
 * HMAC-SHA256 over the purpose, the queue, the job id and the bytes, each length-prefixed so
 * that no two different messages share an input: a job cannot be replayed as a reply, on
 * another queue, or under another job id.
 */
export function sign(secret: Uint8Array, purpose: Purpose, queue: string, jobId: string, body: Uint8Array): Buffer {
  const head = `joblet/${purpose}:${Buffer.byteLength(queue)}:${queue}:${Buffer.byteLength(jobId)}:${jobId}:`;
  return createHmac('sha256', secret).update(head).update(body).digest();
}

/** Constant-time check of a signature; false (never a throw) for a missing or malformed one. */
export function verify(secret: Uint8Array, purpose: Purpose, queue: string, jobId: string, body: Uint8Array, signature: Uint8Array | undefined): boolean {
  if (!signature || signature.length !== 32) return false;
  return timingSafeEqual(sign(secret, purpose, queue, jobId, body), signature);
}
