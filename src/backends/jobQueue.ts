import { AbortError } from '../errors.js';
import type { WireBatch, WireReply } from '../runtime/protocol.js';
import type { BatchEvents } from './types.js';

/** A batch a backend accepted, with the settlers of the promise `submit` returned for it. */
export interface Job {
  batch: WireBatch;
  events: BatchEvents | undefined;
  resolve(reply: WireReply): void;
  reject(reason: unknown): void;
}

/**
 * The batches a backend accepted and has not started yet, in submission
 * order: shared by the pool and the inline backend, which each decide when a
 * job leaves it (their `pump`). Once closed it takes no more jobs, and the
 * ones waiting reject.
 */
export class JobQueue {
  private readonly jobs: Job[] = [];
  private closedFlag = false;

  /** `owner` names the backend in the error of a submit after close: "The threads pool". */
  constructor(private readonly owner: string) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  get length(): number {
    return this.jobs.length;
  }

  /** Queue a batch; the promise settles when the backend answers or drops it. The caller then pumps. */
  add(batch: WireBatch, events: BatchEvents | undefined): Promise<WireReply> {
    if (this.closedFlag) return Promise.reject(new AbortError(`${this.owner} was closed; create a new Parallel.`));
    return new Promise((resolve, reject) => {
      this.jobs.push({ batch, events, resolve, reject });
    });
  }

  /** The job whose turn it is, left in place. */
  peek(): Job | undefined {
    return this.jobs[0];
  }

  shift(): Job | undefined {
    return this.jobs.shift();
  }

  /** Put jobs back at the front, in their order: they were taken but never started. */
  requeue(jobs: readonly Job[]): void {
    this.jobs.unshift(...jobs);
  }

  /** Drop a waiting batch, rejecting it with `reason`; false when it is not waiting here. */
  cancel(batchId: number, reason: unknown): boolean {
    const at = this.jobs.findIndex((job) => job.batch.id === batchId);
    if (at < 0) return false;
    this.jobs.splice(at, 1)[0]!.reject(reason);
    return true;
  }

  /** Take no more jobs; the waiting ones reject with `reason`. */
  close(reason: unknown): void {
    this.closedFlag = true;
    for (const job of this.jobs.splice(0)) job.reject(reason);
  }
}
