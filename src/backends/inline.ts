import { AbortError } from '../errors.js';
import { TaskRunner } from '../runtime/taskRunner.js';
import type { WireBatch, WireReply } from '../runtime/protocol.js';
import type { Backend, BackendFactory, BatchEvents } from './types.js';
import { JobQueue, type Job } from './jobQueue.js';

/**
 * Runs batches one at a time in the main thread, still through the
 * serializer, so a payload that would fail in a worker fails here too
 * (handy under a debugger). Code already running cannot be stopped: a
 * cancelled or timed-out task's promise rejects, and its work, if any, is
 * left to finish unobserved.
 */
class InlineBackend implements Backend {
  readonly name = 'inline';
  readonly nWorkers = 1;
  readonly capabilities = { sharedMemory: true, isolation: 'none' } as const;
  private readonly runner = new TaskRunner(true);
  private readonly queue = new JobQueue('The inline backend');
  private current: Job | undefined;

  submit(batch: WireBatch, events?: BatchEvents): Promise<WireReply> {
    const reply = this.queue.add(batch, events);
    this.pump();
    return reply;
  }

  cancel(batchId: number, reason: unknown): void {
    if (this.queue.cancel(batchId, reason)) return;
    if (this.current?.batch.id === batchId) {
      this.current.reject(reason);
      this.current = undefined;
      this.pump();
    }
  }

  release(defIds: readonly string[]): void {
    this.runner.forget(defIds);
  }

  async terminate(): Promise<void> {
    const closed = new AbortError('The inline backend was closed while the task was pending.');
    this.queue.close(closed);
    this.current?.reject(closed);
    this.current = undefined;
  }

  private pump(): void {
    if (this.current || !this.queue.length || this.queue.closed) return;
    const job = this.queue.shift()!;
    this.current = job;
    job.events?.onStart?.();
    // Start on a later turn so the caller's submit() returns before a synchronous task runs.
    setImmediate(() => {
      if (this.current !== job) return;
      const settle = (finish: () => void) => {
        if (this.current !== job) return;
        this.current = undefined;
        finish();
        this.pump();
      };
      this.runner.runBatch(job.batch).then(
        (reply) => settle(() => job.resolve({ ...reply, worker: 0 })),
        (error) => settle(() => job.reject(error)),
      );
    });
  }
}

export const createInlineBackend: BackendFactory = () => new InlineBackend();
