import type { Delivery, RunScheduler } from './runScheduler.js';

/**
 * Where a run's results go, one per `returnAs`. Only the ordered generator
 * holds results back for their turn: 'array' places each by its index as it
 * lands, so a slow first task never holds the other workers back, and
 * 'generator_unordered' yields them as they complete.
 */

/** returnAs 'array': every result in submission order, as one promise. */
export async function collectAll<T>(open: () => RunScheduler<T>): Promise<T[]> {
  // Opened inside the async function, so that bad input rejects the promise rather than throwing.
  const run = open();
  try {
    const results = await new Promise<T[]>((resolve, reject) => run.start(new IntoArray(run, resolve, reject)));
    run.placeFailures(collectAll); // settled entries' reasons
    return results;
  } catch (error) {
    run.placeFailures(collectAll);
    throw error;
  }
}

/** returnAs 'generator': results in submission order. The run opens on the first next(). */
export function inSubmissionOrder<T>(open: () => RunScheduler<T>): AsyncGenerator<T, void, undefined> {
  return generate(open, new InOrder<T>());
}

/** returnAs 'generator_unordered': results as they complete. The run opens on the first next(). */
export function inCompletionOrder<T>(open: () => RunScheduler<T>): AsyncGenerator<T, void, undefined> {
  return generate(open, new AsCompleted<T>());
}

/**
 * Results go straight into the array as batches answer, with no promise and no refill per
 * result; the run's promise settles once it failed or every task has answered.
 */
class IntoArray<T> implements Delivery<T> {
  readonly takesOnArrival = true;
  /**
   * Made when the first result lands, not when the run opens: an array of 100,000 slots takes
   * 2.5 ms to make on this machine's fresh pages, and by then the first batches are running.
   */
  private results: T[] | undefined;
  private settled = false;

  constructor(
    private readonly run: RunScheduler<T>,
    private readonly resolve: (results: T[]) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  put(index: number, value: T): void {
    (this.results ??= this.run.total === undefined ? [] : new Array<T>(this.run.total))[index] = value;
  }

  changed(): void {
    if (this.settled) return;
    const { failure } = this.run;
    if (failure) {
      this.settled = true;
      this.run.end();
      this.reject(failure.error);
    } else if (this.run.finished) {
      this.settled = true;
      this.run.end();
      this.resolve(this.results ?? (this.run.total === undefined ? [] : new Array<T>(this.run.total)));
    }
  }
}

/** Results held for a generator until its consumer asks; a result counts as handed over when taken. */
abstract class Held<T> implements Delivery<T> {
  readonly takesOnArrival = false;
  private wake: (() => void) | undefined;

  abstract put(index: number, value: T): void;
  /** The next result the consumer may have now, if any. */
  abstract take(): { value: T } | undefined;

  changed(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves at the run's next change. */
  nextChange(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }
}

class InOrder<T> extends Held<T> {
  private readonly done = new Map<number, T>();
  private nextToYield = 0;

  put(index: number, value: T): void {
    this.done.set(index, value);
  }

  take(): { value: T } | undefined {
    if (!this.done.has(this.nextToYield)) return undefined;
    const index = this.nextToYield++;
    const value = this.done.get(index)!;
    this.done.delete(index);
    return { value };
  }
}

class AsCompleted<T> extends Held<T> {
  private readonly queue: { value: T }[] = [];

  put(_index: number, value: T): void {
    this.queue.push({ value });
  }

  take(): { value: T } | undefined {
    return this.queue.shift();
  }
}

async function* generate<T>(open: () => RunScheduler<T>, held: Held<T>): AsyncGenerator<T, void, undefined> {
  const run = open();
  run.start(held);
  try {
    for (;;) {
      const failure = run.failure;
      if (failure) {
        run.end();
        run.placeFailures(generate);
        throw failure.error;
      }
      const item = held.take();
      if (item) {
        run.taken();
        run.placeFailures(generate); // a settled entry's reason
        yield item.value;
        continue;
      }
      if (run.finished) {
        run.end();
        return;
      }
      await held.nextChange();
    }
  } finally {
    // Reached on normal end, on error, and when the consumer breaks out of its loop.
    run.cancel();
  }
}
