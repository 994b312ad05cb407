import type { BatchDuration } from '../backends/types.js';

/**
 * Automatic batch sizing, after joblib's AutoBatchingMixin: aim each batch
 * at a target duration, learn the per-task time with a moving average, grow
 * at most by doubling, and shrink near the end so the last workers do not
 * straggle.
 *
 * The constants fit JavaScript's costs, not Python's. A message to a worker
 * thread and back costs about 50 microseconds here (joblib's processes pay
 * milliseconds, hence its 0.2 to 2 s targets): a batch of 10 to 50 ms keeps
 * that overhead under 1% while a slow task still gets a batch of its own.
 * A backend whose batch costs more to carry (a job on Redis: about a
 * millisecond) says so with its own target (`capabilities.batchDurationMs`).
 */
const THREADS: BatchDuration = { min: 10, target: 20, max: 50 };
// Weight of the newest batch in the moving average of the per-task time.
const SMOOTHING = 0.3;
// A batch never holds more than this: results wait for the whole batch.
const MAX_SIZE = 10_000;
// Near the end a batch is split so every worker gets a share, but not below this fraction of the
// shortest batch wanted: a shorter one leaves less imbalance to even out than its message costs
// (100,000 tasks of x + 1 ended in 40 batches of 1 to 10,000 tasks, a third of the run).
const TAIL_FRACTION = 0.25;

/** What a sizer learned, kept by a Parallel for its next run of the same function (as joblib keeps it for a managed Parallel's next call). */
export interface LearnedBatch {
  readonly size: number;
}

export class AutoBatchSizer {
  private size = 1;
  private perTaskMs: number | undefined;
  private readonly fixed: number | undefined;
  private readonly maxSize: number;

  /** `limit`: the most tasks a batch may hold (a pool that replaces its workers after N tasks says N); it caps a fixed size too. */
  constructor(
    private readonly nWorkers: number,
    fixed: number | undefined,
    private readonly duration: BatchDuration = THREADS,
    limit?: number,
  ) {
    this.maxSize = Math.min(MAX_SIZE, limit ?? MAX_SIZE);
    this.fixed = fixed === undefined ? undefined : Math.min(fixed, this.maxSize);
  }

  /** The fixed size, if any (a per-task timeout, or batchSize given). */
  get fixedSize(): number | undefined {
    return this.fixed;
  }

  /** The size of the next batch, given how many tasks are known to remain (undefined: unknown). */
  next(remaining: number | undefined): number {
    if (this.fixed !== undefined) return this.fixed;
    if (remaining === undefined) return this.size;
    // Near the end, split what is left so that every worker gets a share, down to a batch that is still worth its message.
    const worthIt = this.perTaskMs === undefined ? 1 : Math.round((TAIL_FRACTION * this.duration.min) / this.perTaskMs);
    return Math.max(1, Math.min(this.size, Math.max(worthIt, Math.floor(remaining / (2 * this.nWorkers)))));
  }

  /** What it learned, once it has (undefined with a fixed size: nothing to carry). */
  learned(): LearnedBatch | undefined {
    return this.fixed === undefined && this.perTaskMs !== undefined ? { size: this.size } : undefined;
  }

  /**
   * Start from an earlier run's learning (the same function on the same Parallel) instead of from
   * one task: that run already paid the ramp from 1 to its size. A run whose tasks are slower than
   * the last shrinks at its first answer, as within a run.
   */
  resume(learned: LearnedBatch): void {
    if (this.fixed !== undefined || this.perTaskMs !== undefined) return;
    this.size = Math.max(1, Math.min(learned.size, this.maxSize));
    // The size only: the per-task time is this run's to measure. Carried, it said slow tasks of the
    // same function (a larger argument) were short, so the tail kept a batch of thousands whole (all
    // of a small run on one worker while the others idled) and such batches queued behind others.
  }

  /**
   * Whether a batch of `size` tasks is known to be short (the moving average says at most
   * the backend's max): only then may it wait in a busy worker's queue, where a long one would hold up
   * the batches behind it while another worker idles.
   */
  isShort(size: number): boolean {
    return this.perTaskMs !== undefined && this.perTaskMs * size <= this.duration.max;
  }

  /** A batch of `tasks` tasks took `ms` from its start in a worker to its results here. */
  record(tasks: number, ms: number): void {
    if (tasks < this.size / 2 && this.perTaskMs !== undefined) return; // a tail batch says little
    const perTask = Math.max(ms, 0.01) / tasks;
    this.perTaskMs = this.perTaskMs === undefined ? perTask : SMOOTHING * perTask + (1 - SMOOTHING) * this.perTaskMs;
    if (this.fixed !== undefined) return; // a fixed size still learns the per-task time, for isShort
    const { min, target, max } = this.duration;
    const duration = this.perTaskMs * this.size;
    if (duration < min) this.size = Math.min(this.size * 2, this.maxSize, Math.max(this.size + 1, Math.round(target / this.perTaskMs)));
    else if (duration > max) this.size = Math.max(1, Math.min(Math.floor(this.size / 2), Math.round(target / this.perTaskMs)));
  }
}
