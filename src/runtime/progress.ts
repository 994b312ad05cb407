/**
 * Where a worker is in its batch, for the pool to read when the worker dies: which task was
 * running, which had finished (their results die with the worker: they travel in the batch's one
 * reply), which never started (the run may send them again: they never ran). Written at each
 * task's start and end: stores into a few numbers, no message. A thread's are in memory its pool
 * shares; a child process writes them to a pipe of their own as it exits (`process.exit()`, an
 * uncaught exception), so there a death by a signal or an out-of-memory abort leaves the batch
 * unaccounted, as if no task had been seen to start.
 */

/**
 * [batch id, tasks of it started, tasks of it finished, 1 + the index of the task whose scheduled
 * callback threw what killed the worker (0: none)].
 */
export type ProgressCell = Float64Array;

const FIELDS = 4;

/** The child process's file descriptor of the pipe it writes its progress to as it exits (stdio index 4). */
export const PROGRESS_FD = 4;

/** The bytes of a cell (the shared memory a thread's pool makes for it). */
export const PROGRESS_BYTES = FIELDS * Float64Array.BYTES_PER_ELEMENT;

/** What a pool learns of its dead worker's last batch. */
export interface BatchProgress {
  batchId: number;
  /** Tasks of the batch (by position) that had started. */
  started: number;
  /** Tasks (by position) that had finished: a prefix, as a worker runs them one after another. */
  finished: number;
  /** The task (by index) whose timer, immediate or tick threw the exception the worker died of. */
  thrownBy?: number | undefined;
}

class ProgressWriter {
  cell: ProgressCell = new Float64Array(FIELDS);

  /** The task at `position` of batch `batchId` starts. */
  start(batchId: number, position: number): void {
    const cell = this.cell;
    cell[0] = batchId;
    cell[1] = position + 1;
    if (position === 0) cell[2] = 0;
  }

  /** The task at `position` of the batch running has finished. */
  finish(position: number): void {
    this.cell[2] = position + 1;
  }

  /** A callback task `index` scheduled threw, uncaught: the worker dies of it, maybe while another task runs. */
  thrownBy(index: number): void {
    this.cell[3] = index + 1;
  }
}

/** The worker's one writer; the task runner tells it as tasks start and end. */
export const progress = new ProgressWriter();

/** The progress a cell holds, read by the pool after its worker died. */
export function readProgress(cell: ArrayLike<number>): BatchProgress | undefined {
  if (!(cell[1]! > 0)) return undefined;
  return { batchId: cell[0]!, started: cell[1]!, finished: cell[2]!, thrownBy: cell[3]! > 0 ? cell[3]! - 1 : undefined };
}

/** The progress as the line a child process writes as it exits. */
export function progressLine(): string {
  return `${progress.cell.join(' ')}\n`;
}

/** The last line a child wrote, read back. */
export function parseProgress(text: string): BatchProgress | undefined {
  const lines = text.trim().split('\n');
  const numbers = lines[lines.length - 1]!.split(' ').map(Number);
  return numbers.length === FIELDS && numbers.every(Number.isFinite) ? readProgress(numbers) : undefined;
}
