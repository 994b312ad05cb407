import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parallel, registerBackend, type ParallelOptions, type ReturnAs } from 'joblet';
import { WorkerPool, type SpawnWorker } from '../src/backends/pool.js';
import { spawnThread } from '../src/backends/threads.js';
import type { ToWorker } from '../src/runtime/protocol.js';

export const BACKENDS = ['threads', 'processes', 'inline'] as const;

/**
 * Registers backend `name`: real worker threads (shared memory, as 'threads') whose every message
 * is shown to `see` on its way to a worker: what crossed, read where it was sent.
 */
export function registerSeenThreads(name: string, see: (message: ToWorker) => void): void {
  const spawn: SpawnWorker = (events) => {
    const handle = spawnThread(events);
    return { ...handle, send: (message, transfer) => (see(message), handle.send(message, transfer)) };
  };
  registerBackend(name, ({ nWorkers }) => new WorkerPool('threads', nWorkers, { sharedMemory: true, isolation: 'thread' }, spawn));
}
export type BackendName = (typeof BACKENDS)[number];

/** uvu's assert.throws does not await: this does, and fails when nothing is thrown. */
export async function rejects(promise: Promise<unknown> | (() => Promise<unknown>), check: (error: any) => void): Promise<void> {
  let caught: unknown;
  let threw = false;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    threw = true;
    caught = error;
  }
  assert.ok(threw, 'expected a rejection, got a result');
  check(caught);
}

/** The synchronous twin of `rejects`: fails when `fn` returns instead of throwing. */
export function throws(fn: () => unknown, check: (error: any) => void): void {
  let caught: unknown;
  let threw = false;
  try {
    fn();
  } catch (error) {
    threw = true;
    caught = error;
  }
  assert.ok(threw, 'expected a throw, got a result');
  check(caught);
}

/** Runs `use` with a new Parallel, closed in `finally` whatever `use` does. */
export async function withParallel<T, R extends ReturnAs = 'array'>(options: ParallelOptions<R>, use: (parallel: Parallel<R>) => Promise<T>): Promise<T> {
  const parallel = new Parallel(options);
  try {
    return await use(parallel);
  } finally {
    await parallel.close();
  }
}

/** A fresh folder under the system's temporary folder; remove it with the returned function. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'joblet-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A compiled fixture script's path (test/fixtures/NAME.ts, built beside this file). */
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));

export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed by the guard: it ran past `limitMs`. */
  killed: boolean;
}

/**
 * Run `node ...args` as a real child process; resolves with its exit code and output, or kills it
 * after `limitMs` (a guard against a hang, not a timing assertion).
 */
export function runNode(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; limitMs?: number } = {}): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const guard = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, options.limitMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, killed });
    });
  });
}
