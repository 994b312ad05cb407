import { Worker } from 'node:worker_threads';
import type { Encoded } from './encoding.js';
import type { Fingerprint } from './fingerprint.js';

export interface FidelityRequest {
  id: number;
  serializer: string;
  /** The module that registers a user serializer in a worker (registerSerializer's `module`). */
  module: string | undefined;
  encoded: Encoded;
}

export type FidelityAnswer = { id: number; ok: true; print: Fingerprint } | { id: number; ok: false; error: string };

// Compiled beside this module, like the runtime's worker entries.
const entry = new URL('./fidelityWorker.js', import.meta.url);

interface Pending {
  resolve(print: Fingerprint): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One worker thread that rebuilds encoded values and describes what it got.
 *
 * Why a worker thread and not a vm context in this thread: a serializer's
 * `deserialize` compiles code in the realm it runs in (serialize-javascript's
 * eval, a user codec's own), and only the closure codec can be pointed at a
 * vm context. A worker runs each serializer's real `deserialize`, loaded the
 * way a run's workers load it, in a world with nothing of the main thread's:
 * what is missing there is missing for a task too. Reading what a rebuilt
 * function captures uses the inspector, which answers synchronously in
 * workers as in the main thread (closure/inspector.ts).
 *
 * Started on the first check, stopped by `close()`; a worker that dies or
 * does not answer within `timeoutMs` fails its check and is replaced by the
 * next one.
 */
export class FidelityChecker {
  #worker: Worker | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(private readonly timeoutMs: number) {}

  check(serializer: string, module: string | undefined, encoded: Encoded): Promise<Fingerprint> {
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise<Fingerprint>((resolve, reject) => {
      const timer = setTimeout(() => {
        void this.#failAll(new Error(`the worker did not rebuild the value within ${this.timeoutMs} ms (option \`timeout\`)`));
      }, this.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, serializer, module, encoded } satisfies FidelityRequest);
    });
  }

  /** Stop the worker (and fail any check still waiting). */
  async close(): Promise<void> {
    await this.#failAll(new Error('the comparison was closed'));
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(entry);
    worker.on('message', (answer: FidelityAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      clearTimeout(pending.timer);
      if (answer.ok) pending.resolve(answer.print);
      else pending.reject(new Error(answer.error));
    });
    worker.on('error', (error) => void this.#failAll(new Error(`the worker failed: ${error instanceof Error ? error.message : String(error)}`)));
    worker.on('exit', (code) => {
      if (this.#worker === worker) void this.#failAll(new Error(`the worker exited with code ${code}`));
    });
    this.#worker = worker;
    return worker;
  }

  /** Reject every check still waiting and stop the worker; the next check starts a new one. */
  async #failAll(error: Error): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    await worker?.terminate();
  }
}
