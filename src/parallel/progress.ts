import type { RunObserver } from './observer.js';

/** Where a run stands, as `onProgress` receives it. */
export interface Progress {
  /** Tasks finished, failed ones included. */
  done: number;
  /** Tasks in the run, when known (an array input, or once an iterable ran out). */
  total: number | undefined;
  /** Tasks that failed (the run stops at the first; with `settle: true` it goes on, and each counts). */
  failed: number;
  /** Time since the run started, in milliseconds. */
  elapsedMs: number;
  /** Time left at the rate so far; undefined until the total and a rate are known. */
  etaMs: number | undefined;
}

/** Where and how the progress bar is drawn (the `progress` option, as an object). */
export interface ProgressOptions {
  /**
   * Where the bar is drawn. On a terminal it is redrawn in place; elsewhere only with `force`.
   * @default process.stderr
   * @example new Parallel({ progress: { stream: process.stdout } })
   */
  stream?: NodeJS.WritableStream & {
    /** A terminal: the bar is redrawn in place. */
    isTTY?: boolean;
    /** The terminal's width; the bar fits in it. */
    columns?: number;
  };
  /**
   * Draw even when the stream is not a terminal (one plain line a second, no carriage returns).
   * @default false
   * @example new Parallel({ progress: { force: true } }) // in a CI log
   */
  force?: boolean;
}

type Listener = (progress: Progress, final: boolean) => void;

/**
 * Counts a run's finished tasks and tells its listeners (the bar, the verbose
 * log, the user's onProgress) after each batch and once at the end.
 */
export class ProgressTracker implements RunObserver {
  private done = 0;
  private failed = 0;
  private total: number | undefined;
  private started = performance.now();

  constructor(private readonly listeners: Listener[]) {}

  runStarted(total: number | undefined): void {
    this.started = performance.now();
    this.total = total;
    this.tell(false);
  }

  totalKnown(total: number): void {
    this.total = total;
  }

  batchDone(batch: { tasks: number; failed: number }): void {
    this.done += batch.tasks;
    this.failed += batch.failed;
    this.tell(false);
  }

  tasksFailed(count: number): void {
    this.done += count;
    this.failed += count;
    this.tell(false);
  }

  runEnded(error: unknown): void {
    // A failure that came from no batch (a timeout, an abort, a crash) still counts once.
    if (error !== undefined && this.failed === 0) this.failed = 1;
    this.tell(true);
  }

  snapshot(): Progress {
    const elapsedMs = performance.now() - this.started;
    const { done, total, failed } = this;
    const etaMs = total !== undefined && done > 0 ? (elapsedMs / done) * Math.max(0, total - done) : undefined;
    return { done, total, failed, elapsedMs, etaMs };
  }

  private tell(final: boolean): void {
    const progress = this.snapshot();
    for (const listener of this.listeners) {
      try {
        listener(progress, final);
      } catch (error) {
        // A watcher's own bug must not take the run down or lose its results: say so once.
        if (!this.warned) process.emitWarning(`joblet: a progress listener threw and is ignored: ${error instanceof Error ? error.message : String(error)}`);
        this.warned = true;
      }
    }
  }

  private warned = false;
}

/** `1.2s`, `2.5min`, `1.1h`: joblib's way of writing durations. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${(s / 60).toFixed(1)}min`;
  return `${(s / 3600).toFixed(1)}h`;
}

const TTY_INTERVAL_MS = 100;
const PLAIN_INTERVAL_MS = 1000;

/**
 * Draws the bar, or returns undefined when it should not be drawn: not a terminal and not forced.
 * On a terminal the line is redrawn in place at most ten times a second; forced onto anything
 * else (a log file) it writes a plain line a second. Never on stdout unless given it.
 */
export function progressBar(options: ProgressOptions): Listener | undefined {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  if (!tty && !options.force) return undefined;
  let last = -Infinity;
  return (progress, final) => {
    const now = performance.now();
    if (!final && now - last < (tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)) return;
    last = now;
    const line = renderBar(progress, tty ? Math.max(40, (stream.columns ?? 80) - 1) : 80);
    stream.write(tty ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`);
  };
}

/** One line: bar (when the total is known), count, rate, elapsed and time left. */
export function renderBar(progress: Progress, width: number): string {
  const { done, total, failed, elapsedMs, etaMs } = progress;
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const parts = [
    total !== undefined ? `${done}/${total} (${total ? Math.floor((done / total) * 100) : 100}%)` : `${done} tasks`,
    `${formatRate(rate)} tasks/s`,
    `elapsed ${formatDuration(elapsedMs)}`,
  ];
  if (etaMs !== undefined && (total === undefined || done < total)) parts.push(`left ${formatDuration(etaMs)}`);
  if (failed) parts.push(`${failed} failed`);
  const text = parts.join(' | ');
  if (total === undefined) return text;
  const barWidth = Math.max(10, Math.min(40, width - text.length - 3));
  const filled = total ? Math.round((done / total) * barWidth) : barWidth;
  return `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)} ${text}`;
}

function formatRate(rate: number): string {
  return rate >= 100 ? Math.round(rate).toLocaleString('en-US') : rate.toFixed(1);
}

/**
 * joblib's verbose lines on stderr: `[Parallel(nJobs=2)]: Done 40 of 100 | elapsed: 1.2s | remaining: 1.8s`.
 * Above 10, a line after every batch; from 1 to 10, lines that thin out as the run goes on
 * (a line whenever the square root of the count, scaled by the verbosity, reaches a new whole number);
 * always a last line.
 */
export function verboseLog(verbose: number, prefix: string, write: (line: string) => void): Listener {
  const scale = 0.5 * (11 - Math.min(verbose, 10)) ** 2;
  let lastStep = 0;
  return (progress, final) => {
    const { done, total, failed, elapsedMs, etaMs } = progress;
    if (!final) {
      if (done === 0) return;
      const step = Math.floor(Math.sqrt(done / scale));
      if (verbose <= 10 && step === lastStep) return;
      lastStep = step;
    }
    const count = total !== undefined ? `Done ${done} of ${total}` : `Done ${done} tasks`;
    let tail: string;
    if (final) tail = failed ? `failed (${failed} failed)` : 'finished';
    else tail = etaMs !== undefined ? `remaining: ${formatDuration(etaMs)}` : '';
    write(`[${prefix}]: ${count} | elapsed: ${formatDuration(elapsedMs)}${tail ? ` | ${tail}` : ''}\n`);
  };
}
