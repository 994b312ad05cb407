import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';

/** `backendOptions` of `new Parallel({ backend: 'bullmq', backendOptions })`. */
export interface BullmqBackendOptions {
  /**
   * The Redis server: a URL (`redis://user:pass@host:6379/0`, `rediss://` for TLS), a unix
   * socket path (`/run/redis.sock` or `unix:///run/redis.sock`), or ioredis options.
   * @default 'redis://127.0.0.1:6379'
   */
  connection?: string | RedisOptions;
  /** The BullMQ queue the workers serve. @default 'joblet' */
  queue?: string;
  /** The shared secret (at least 32 bytes) that signs jobs and replies; else `secretFile`, else JOBLET_SECRET. */
  secret?: string | Uint8Array;
  /** A file holding the secret. */
  secretFile?: string;
  /** How long a run waits for a live `joblet worker` before it rejects, in ms. @default 10000 */
  workerWaitMs?: number;
}

export interface ResolvedOptions {
  connection: RedisOptions;
  /** The connection as a person reads it, without its password. */
  where: string;
  queue: string;
  secret: Buffer;
  workerWaitMs: number;
}

const KEYS = ['connection', 'queue', 'secret', 'secretFile', 'workerWaitMs'];
export const MIN_SECRET_BYTES = 32;

/** ioredis options for a URL, a socket path or options; throws a TypeError naming what is wrong. */
export function parseConnection(connection: string | RedisOptions | undefined): { options: RedisOptions; where: string } {
  if (connection === undefined) return { options: { host: '127.0.0.1', port: 6379 }, where: 'redis://127.0.0.1:6379' };
  if (typeof connection === 'object' && connection !== null) {
    const where = connection.path ?? `${connection.host ?? '127.0.0.1'}:${connection.port ?? 6379}`;
    return { options: { ...connection }, where };
  }
  if (typeof connection !== 'string') throw new TypeError(`Expected the bullmq \`connection\` to be a redis:// URL, a socket path or ioredis options, got ${typeof connection}`);
  if (connection.startsWith('/')) return { options: { path: connection }, where: connection };
  const url = new URL(connection);
  if (url.protocol === 'unix:') return { options: { path: url.pathname }, where: url.pathname };
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new TypeError(`Expected the bullmq \`connection\` to be a redis://, rediss:// or unix:// URL, or a socket path, got '${url.protocol}'`);
  }
  const options: RedisOptions = { host: url.hostname || '127.0.0.1', port: url.port ? Number(url.port) : 6379 };
  if (url.username) options.username = decodeURIComponent(url.username);
  if (url.password) options.password = decodeURIComponent(url.password);
  const db = url.pathname.replace(/^\//, '');
  if (db) options.db = Number(db);
  if (url.protocol === 'rediss:') options.tls = {};
  return { options, where: `${url.protocol}//${options.host}:${options.port}${db ? `/${db}` : ''}` };
}

/**
 * The secret, as bytes: given, or read from a file (trailing newline dropped), or JOBLET_SECRET.
 * Throws when there is none or it is shorter than 32 bytes: an unsigned queue would run
 * whatever anyone with access to Redis puts in it.
 */
export function loadSecret(secret: string | Uint8Array | undefined, secretFile: string | undefined, env = process.env): Buffer {
  let bytes: Buffer | undefined;
  let from = 'JOBLET_SECRET';
  if (secret !== undefined) {
    bytes = typeof secret === 'string' ? Buffer.from(secret) : Buffer.from(secret);
    from = 'the secret option';
  } else if (secretFile !== undefined) {
    bytes = Buffer.from(readFileSync(secretFile, 'utf8').replace(/\r?\n$/, ''));
    from = `the secret file ${secretFile}`;
  } else if (env.JOBLET_SECRET) bytes = Buffer.from(env.JOBLET_SECRET);
  if (!bytes) {
    throw new Error(
      'The bullmq backend needs a shared secret to sign jobs and replies: set JOBLET_SECRET, or give a secret file, ' +
        `of at least ${MIN_SECRET_BYTES} bytes (for instance: openssl rand -hex 32 > joblet.secret).`,
    );
  }
  if (bytes.length < MIN_SECRET_BYTES) throw new Error(`The secret from ${from} has ${bytes.length} bytes; it needs at least ${MIN_SECRET_BYTES} (openssl rand -hex 32).`);
  return bytes;
}

export function resolveOptions(given: unknown): ResolvedOptions {
  const options = (given ?? {}) as BullmqBackendOptions;
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected `backendOptions` for the bullmq backend to be an object');
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) throw new TypeError(`Unknown bullmq backend option \`${key}\`. Known options: ${KEYS.join(', ')}`);
  }
  const queue = options.queue ?? 'joblet';
  if (typeof queue !== 'string' || !queue || queue.includes(':')) throw new TypeError(`Expected the bullmq \`queue\` to be a non-empty name without ':', got ${String(queue)}`);
  const workerWaitMs = options.workerWaitMs ?? 10_000;
  if (!(typeof workerWaitMs === 'number' && workerWaitMs >= 0)) throw new RangeError(`Expected \`workerWaitMs\` to be a number of milliseconds, got ${String(workerWaitMs)}`);
  const { options: connection, where } = parseConnection(options.connection);
  return { connection, where, queue, secret: loadSecret(options.secret, options.secretFile), workerWaitMs };
}
