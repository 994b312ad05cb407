/**
 * A real Redis and real `joblet worker` processes for the bullmq backend's tests: redis-server on
 * a unix socket in a temporary folder (no TCP port, no collision), waited for by PING, stopped by
 * PID; workers started from the compiled CLI and waited for by their ready line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'uvu';
import { Parallel } from 'joblet';
import { tempDir } from './helpers.js';

export const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
export const SECRET = 'a-test-secret-of-more-than-32-bytes-0123456789';

/** The redis-server binary, or undefined. */
export function findRedisServer(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  return ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'].find((path) => existsSync(path));
}

/** Whether the bullmq tests run here: with redis-server, always; without, they fail in CI and skip (one line) elsewhere. */
export function redisAvailable(suiteName: string): boolean {
  if (findRedisServer()) return true;
  if (process.env.CI) return true; // the tests run and fail, saying redis-server is missing
  console.log(`SKIP ${suiteName}: redis-server not found. Install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis) to run these tests.`);
  return false;
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = connect(socket);
    let answer = '';
    client.on('connect', () => client.write('PING\r\n'));
    client.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) {
        client.destroy();
        resolve(answer.startsWith('+PONG'));
      }
    });
    client.on('error', () => resolve(false));
  });
}

export interface RedisServer {
  socket: string;
  folder: string;
  /** A redis-cli-like call: the server's answer to one command, through ioredis. */
  command(...args: string[]): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed (apt-get install -y redis-server): the bullmq tests need it in CI.');
  const folder = tempDir();
  const socket = join(folder.path, 'redis.sock');
  const child = spawn(binary, ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', folder.path], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGKILL');
      await gone;
    }
    folder.remove();
  };
  try {
    // Wait for the socket to answer a PING: each attempt is one connection, retried until it is up or the server died.
    while (!(await ping(socket))) {
      if (exited) throw new Error(`redis-server exited before accepting connections`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const { Redis } = await import('ioredis');
  const command = async (...args: string[]) => {
    const client = new Redis({ path: socket });
    try {
      return await client.call(args[0]!, ...args.slice(1));
    } finally {
      client.disconnect();
    }
  };
  return { socket, folder: folder.path, command, stop };
}

export function writeSecret(folder: string, secret = SECRET, name = 'secret'): string {
  const path = join(folder, name);
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return path;
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string | null>;
  stop(): Promise<void>;
}

/** Start `joblet worker` and wait for its ready line (or its exit, which rejects with its output). */
export async function startWorkerProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const worker = spawnWorkerProcess(args, env);
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (/ ready: /.test(worker.output())) resolve();
    };
    worker.child.stderr!.on('data', onData);
    worker.exited.then((code) => reject(new Error(`joblet worker exited (${code}) before it was ready:\n${worker.output()}`)));
  });
  return worker;
}

/** Spawn `joblet worker` without waiting. */
export function spawnWorkerProcess(args: string[], env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, [CLI, 'worker', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOBLET_SECRET: '', ...env } });
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return {
    child,
    output: () => text,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * What every bullmq suite sets up: one Redis started before the suite's tests, fresh queues each
 * served by real `joblet worker` processes, and all of them stopped after the suite.
 */
export class RedisFixture {
  redis!: RedisServer;
  secretFile!: string;
  private queues = 0;
  private readonly workers: WorkerProcess[] = [];

  /** `prefix` names the suite's queues; `workerWaitMs` is how long its runs wait for a worker. */
  constructor(test: Test, private readonly prefix: string, private readonly defaults: { workerWaitMs: number; workerArgs?: string[] }) {
    test.before(async () => {
      this.redis = await startRedis();
      this.secretFile = writeSecret(this.redis.folder);
    });
    test.after(async () => {
      await Promise.all(this.workers.splice(0).map((worker) => worker.stop()));
      await this.redis?.stop();
    });
  }

  /** A fresh queue with `count` workers serving it (concurrency 2 unless `extra` says otherwise). */
  async serve(count: number, extra: string[] = []): Promise<{ queue: string; workers: WorkerProcess[] }> {
    const queue = `${this.prefix}${this.queues++}`;
    const concurrency = extra.includes('--concurrency') ? [] : ['--concurrency', '2'];
    const args = ['--redis', this.redis.socket, '--secret-file', this.secretFile, '--queue', queue, ...concurrency, ...(this.defaults.workerArgs ?? []), ...extra];
    const started = await Promise.all(Array.from({ length: count }, () => startWorkerProcess(args)));
    this.workers.push(...started);
    return { queue, workers: started };
  }

  /** A Parallel on the bullmq backend whose runs go to `queue`. */
  parallelOn(queue: string, options: Record<string, unknown> = {}): Parallel {
    return new Parallel({ backend: 'bullmq', backendOptions: { connection: this.redis.socket, queue, secret: SECRET, workerWaitMs: this.defaults.workerWaitMs }, ...options });
  }
}
