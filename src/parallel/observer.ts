/**
 * What a run tells those who watch it: the progress bar, the verbose log, the
 * profiler and the user's onProgress. The run scheduler calls these; each watcher
 * implements the ones it needs. Times are milliseconds.
 */
export interface RunObserver {
  /** Measure encode and decode times (costs a clock read per batch): the profiler wants them. */
  readonly wantsTiming?: boolean;
  runStarted?(total: number | undefined): void;
  /** The input ran out: how many tasks it held. */
  totalKnown?(total: number): void;
  /** A batch left for a worker: `encodeMs` spent preparing and packing its tasks in this thread. */
  batchSent?(batch: SentBatch): void;
  /** A worker started a batch, `queueWaitMs` after it was sent. */
  batchStarted?(queueWaitMs: number): void;
  batchDone?(batch: DoneBatch): void;
  /** In a settled run, tasks that failed with no reply of theirs (a crash, a timeout, refused at submission): counted done and failed. */
  tasksFailed?(count: number): void;
  /** The run ended: finished, failed (`error`), or left early by its consumer. */
  runEnded?(error: unknown): void;
}

export interface SentBatch {
  tasks: number;
  encodeMs: number;
  /** Bytes of the packed arguments; for arguments the transport clones as they are, an estimate. */
  bytes: number;
  estimated: boolean;
}

export interface DoneBatch {
  tasks: number;
  /** Tasks of the batch that failed (the run stops at the first, unless it settles). */
  failed: number;
  decodeMs: number;
  bytes: number;
  estimated: boolean;
  /** The worker that ran it (the pool's own number for it). */
  worker: number | undefined;
  /** The worker's own times, when the batch asked for them. */
  timing: { decodeMs: number; encodeMs: number; taskMs: number[] } | undefined;
}

/** One observer that calls each of `observers` in turn; undefined when there is none. */
export function combineObservers(observers: (RunObserver | undefined)[]): RunObserver | undefined {
  const list = observers.filter((o): o is RunObserver => o !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return {
    wantsTiming: list.some((o) => o.wantsTiming),
    runStarted: (total) => list.forEach((o) => o.runStarted?.(total)),
    totalKnown: (total) => list.forEach((o) => o.totalKnown?.(total)),
    batchSent: (batch) => list.forEach((o) => o.batchSent?.(batch)),
    batchStarted: (ms) => list.forEach((o) => o.batchStarted?.(ms)),
    batchDone: (batch) => list.forEach((o) => o.batchDone?.(batch)),
    tasksFailed: (count) => list.forEach((o) => o.tasksFailed?.(count)),
    runEnded: (error) => list.forEach((o) => o.runEnded?.(error)),
  };
}
