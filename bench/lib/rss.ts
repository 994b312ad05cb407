/** Resident memory (worker threads included) while each phase of a bench ran: at its start, and the highest sampled every 20 ms. */

export const mib = (bytes: number) => bytes / 2 ** 20;

export class RssByPhase {
  /** The phase being sampled; undefined: none. */
  phase: string | undefined;
  private readonly seen = new Map<string, { start: number; peak: number }>();
  private readonly timer = setInterval(() => this.sample(), 20);

  constructor() {
    this.timer.unref();
  }

  sample(): void {
    if (this.phase === undefined) return;
    const rss = process.memoryUsage.rss();
    const seen = this.seen.get(this.phase);
    if (seen) seen.peak = Math.max(seen.peak, rss);
    else this.seen.set(this.phase, { start: rss, peak: rss });
  }

  get(phase: string): { start: number; peak: number } | undefined {
    return this.seen.get(phase);
  }

  /** `start → peak` in MiB, or empty if the phase was never sampled. */
  cell(phase: string): string {
    const seen = this.seen.get(phase);
    return seen ? `${mib(seen.start).toFixed(0)} → ${mib(seen.peak).toFixed(0)}` : '';
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
