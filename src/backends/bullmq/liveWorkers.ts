import type { Redis } from 'ioredis';
import { heartbeatPattern } from './keys.js';

/** The slots every live worker of `queue` advertises (their heartbeat keys expire when they die). */
export async function countSlots(redis: Redis, queue: string): Promise<number> {
  let cursor = '0';
  const keys: string[] = [];
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', heartbeatPattern(queue), 'COUNT', 100);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  if (!keys.length) return 0;
  const values = await redis.mget(keys);
  return values.reduce((sum, value) => sum + (Number(value) > 0 ? Number(value) : 0), 0);
}
