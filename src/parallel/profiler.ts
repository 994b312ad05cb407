import type { DoneBatch, RunObserver, SentBatch } from './observer.js';
import { presentIndices } from '../values/sparse.js';

/** One phase's times, in milliseconds. Percentiles come from at most 100,000 samples (a uniform reservoir). */
export interface PhaseStats {
  /** How many measurements (batches or tasks, as the phase says). */
  count: number;
  /** Their sum, in milliseconds. */
  totalMs: number;
  /** Their mean, in milliseconds. */
  meanMs: number;
  /** The median, in milliseconds. */
  p50Ms: number;
  /** The 90th percentile, in milliseconds. */
  p90Ms: number;
  /** The 99th percentile, in milliseconds. */
  p99Ms: number;
  /** The largest, in milliseconds. */
  maxMs: number;
}

/** What `parallel.stats()` returns: every run of this Parallel since profiling began (or since `resetStats()`). */
export interface ParallelStats {
  /** Calls of `run()` (or `map()`) measured. */
  runs: number;
  /** Tasks that finished, failed ones included. */
  tasks: number;
  /** Batches sent to workers. */
  batches: number;
  /** Tasks that failed. */
  failed: number;
  /** Time runs were in progress, added up (overlapping runs count twice). */
  wallMs: number;
  /** Where the time went, phase by phase. */
  phases: {
    /** Encoding, per batch: the arguments in the main thread plus the results in the worker. */
    serialize: PhaseStats;
    /** From a batch's send to the moment a worker starts it, per batch. */
    queueWait: PhaseStats;
    /** The task function's own time, per task, measured in the worker. */
    run: PhaseStats;
    /** Decoding, per batch: the arguments in the worker plus the results in the main thread. */
    deserialize: PhaseStats;
  };
  /**
   * Bytes of tasks sent and results received. Plain data that the transport clones as it is
   * has no encoded size: it is estimated (8 bytes a number, a string's length, buffers by size), and `estimated` says so.
   */
  bytes: {
    /** Bytes of tasks sent to workers. */
    sent: number;
    /** Bytes of results received. */
    received: number;
    /** Some of the figures are estimates (plain data the transport cloned as it is). */
    estimated: boolean;
  };
  /** Per worker: batches and tasks it ran, time busy (decode, run, encode), and busy time over wallMs. */
  workers: {
    /** The backend's number for the worker. */
    worker: number;
    /** Batches it ran. */
    batches: number;
    /** Tasks it ran. */
    tasks: number;
    /** Time it was busy: decode, run, encode, in milliseconds. */
    busyMs: number;
    /** `busyMs` over `wallMs`, from 0 to 1. */
    utilization: number;
  }[];
}

const RESERVOIR = 100_000;

class Samples {
  count = 0;
  total = 0;
  max = 0;
  private readonly kept: number[] = [];

  add(ms: number): void {
    this.count++;
    this.total += ms;
    if (ms > this.max) this.max = ms;
    if (this.kept.length < RESERVOIR) this.kept.push(ms);
    else {
      // Reservoir sampling: every sample so far has the same chance to be kept.
      const at = Math.floor(Math.random() * this.count);
      if (at < RESERVOIR) this.kept[at] = ms;
    }
  }

  stats(): PhaseStats {
    const sorted = [...this.kept].sort((a, b) => a - b);
    const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! : 0);
    return { count: this.count, totalMs: this.total, meanMs: this.count ? this.total / this.count : 0, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: this.max };
  }
}

/** Collects a Parallel's profile across its runs (grain's enable_profiling). */
export class Profiler {
  private runs = 0;
  private tasks = 0;
  private batches = 0;
  private failed = 0;
  private wallMs = 0;
  private serialize = new Samples();
  private queueWait = new Samples();
  private run = new Samples();
  private deserialize = new Samples();
  private sent = 0;
  private received = 0;
  private estimated = false;
  private workers = new Map<number, { batches: number; tasks: number; busyMs: number }>();

  /** An observer for one run; the run's figures join this profile. */
  observe(): RunObserver {
    let started = performance.now();
    // The main thread's encode time of each batch waits for its worker's encode time to join it.
    const encodes: number[] = [];
    return {
      wantsTiming: true,
      runStarted: () => {
        started = performance.now();
        this.runs++;
      },
      batchSent: (batch: SentBatch) => {
        this.batches++;
        this.sent += batch.bytes;
        this.estimated ||= batch.estimated;
        encodes.push(batch.encodeMs);
      },
      batchStarted: (ms) => this.queueWait.add(ms),
      batchDone: (batch: DoneBatch) => {
        this.tasks += batch.tasks;
        this.failed += batch.failed;
        this.received += batch.bytes;
        this.estimated ||= batch.estimated;
        const timing = batch.timing;
        // Batches may finish out of order; the encode times are spread evenly enough for a profile.
        const mainEncode = encodes.shift() ?? 0;
        this.serialize.add(mainEncode + (timing?.encodeMs ?? 0));
        this.deserialize.add(batch.decodeMs + (timing?.decodeMs ?? 0));
        if (timing) for (const ms of timing.taskMs) this.run.add(ms);
        if (batch.worker !== undefined) {
          const worker = this.workers.get(batch.worker) ?? { batches: 0, tasks: 0, busyMs: 0 };
          worker.batches++;
          worker.tasks += batch.tasks;
          if (timing) worker.busyMs += timing.decodeMs + timing.encodeMs + timing.taskMs.reduce((a, b) => a + b, 0);
          this.workers.set(batch.worker, worker);
        }
      },
      runEnded: () => {
        this.wallMs += performance.now() - started;
      },
    };
  }

  stats(): ParallelStats {
    return {
      runs: this.runs,
      tasks: this.tasks,
      batches: this.batches,
      failed: this.failed,
      wallMs: this.wallMs,
      phases: { serialize: this.serialize.stats(), queueWait: this.queueWait.stats(), run: this.run.stats(), deserialize: this.deserialize.stats() },
      bytes: { sent: this.sent, received: this.received, estimated: this.estimated },
      workers: [...this.workers].map(([worker, w]) => ({ worker, ...w, utilization: this.wallMs > 0 ? w.busyMs / this.wallMs : 0 })),
    };
  }

  reset(): void {
    Object.assign(this, new Profiler());
  }
}

/**
 * Bytes a payload would take encoded, for plain data the transport clones as it is: 8 per
 * number, 2 per string character, buffers by size, a few per object. A walk, done only when profiling.
 */
export function estimatePayloadBytes(root: unknown): number {
  let bytes = 0;
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    if (typeof value === 'number' || typeof value === 'bigint') bytes += 8;
    else if (typeof value === 'string') bytes += value.length * 2;
    else if (typeof value === 'boolean' || value === null || value === undefined) bytes += 1;
    else if (typeof value === 'object') {
      if (seen.has(value)) continue;
      seen.add(value);
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) bytes += value.byteLength;
      else if (value instanceof Map) for (const [k, v] of value) stack.push(k, v);
      else if (value instanceof Set) for (const v of value) stack.push(v);
      else if (Array.isArray(value)) {
        const present = presentIndices(value);
        if (present) for (const i of present) stack.push(value[i]);
        else for (let i = 0; i < value.length; i++) stack.push(value[i]);
      }
      else for (const key of Object.keys(value)) stack.push(key, (value as Record<string, unknown>)[key]);
      bytes += 4;
    }
  }
  return bytes;
}
