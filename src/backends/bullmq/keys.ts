/**
 * The keys joblet keeps in Redis beside BullMQ's own (`bull:<queue>:...`), and its job ids.
 * Everything a run writes is under `joblet:<queue>:` and has a TTL, so a producer that dies
 * leaves nothing for good.
 */
export const REPLY_TTL_MS = 60 * 60 * 1000;
export const HEARTBEAT_TTL_MS = 15_000;
export const HEARTBEAT_EVERY_MS = 5_000;

/** A worker's reply to a job: signature (32 bytes) then the reply's bytes. */
export const replyKey = (queue: string, jobId: string) => `joblet:${queue}:reply:${jobId}`;

/**
 * A cancelled job: a worker that takes it checks this key before it starts the batch, and drops it.
 * The channel tells a worker already running it to stop its local batch (the key covers a worker
 * that was between taking the job and listening for it).
 */
export const cancelKey = (queue: string, jobId: string) => `joblet:${queue}:cancel:${jobId}`;
export const cancelChannel = (queue: string) => `joblet:${queue}:cancel`;
export const CANCEL_TTL_MS = 10 * 60 * 1000;

/** A live worker's advertisement: its number of slots, refreshed while it serves. */
export const heartbeatKey = (queue: string, workerId: string) => `joblet:${queue}:worker:${workerId}`;
export const heartbeatPattern = (queue: string) => `joblet:${queue}:worker:*`;

/**
 * A batch's job id: the producer's random id and the batch's number, so adding the same batch
 * again is a no-op in BullMQ, and two producers never collide. (BullMQ refuses ':' in custom ids.)
 */
export const jobIdOf = (producer: string, batchId: number) => `joblet-${producer}-${batchId}`;

/** Def ids a producer no longer needs (its run ended, its persisted value closed): workers drop them. */
export const releaseChannel = (queue: string) => `joblet:${queue}:release`;

/** Whose key space a reply's large results are stored in: the job's own, so a reply dropped unread takes them along. */
export const replyOwner = (jobId: string) => `reply.${jobId}`;
