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
    // Near the end, split what is left so that every worker gets a share.
    if (remaining !== undefined) return Math.max(1, Math.min(this.size, Math.floor(remaining / (2 * this.nWorkers))));
    return this.size;
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
