import { noteReferenceInUse, type ReferenceKind } from '../values/byReference.js';
import { logLine, mainChannel } from '../values/mainChannel.js';

/** How a {@link Counter} starts and what it prints. */
export interface CounterOptions {
  /**
   * Print `message` each time the count reaches or passes a multiple of this. 0: never.
   * @default 0
   * @example new Counter({ printEvery: 1000 })
   */
  printEvery?: number;
  /**
   * The line printed (to stderr); `{}` is replaced by the count.
   * @default 'Count: {}'
   * @example new Counter({ printEvery: 100, message: 'rows done: {}' })
   */
  message?: string;
  /**
   * The count to start from.
   * @default 0
   * @example new Counter({ initial: alreadyDone })
   */
  initial?: number;
}

/** What travels to a worker: the shared memory when the worker can see it, else nothing but the settings. */
export interface CounterState {
  id: string;
  buffer: SharedArrayBuffer | undefined;
  printEvery: number;
  message: string;
  /** The count when it was sent (what a process worker starts from). */
  value: number;
}

let nextId = 0;
// A per-process prefix: counters made in different processes never share an id.
const ORIGIN = `${process.pid}.${Math.random().toString(36).slice(2, 8)}`;

/** Counters made in this thread, by id: replies and process workers' increments find them here. */
const local = new Map<string, WeakRef<Counter>>();
// A counter nobody holds any more leaves the map too.
const forgetWhenCollected = new FinalizationRegistry<string>((id) => local.delete(id));
/** Counters received in this worker, by id: one per worker, whatever the number of tasks that use it. */
const received = new Map<string, Counter>();

/**
 * A counter every worker can add to (pynitride's Counter): shared memory and
 * Atomics on threads and inline, a message to the main process from child
 * processes. It prints a line each time the count crosses a multiple of
 * `printEvery`.
 */
export class Counter {
  /** Identifies the counter in every worker. */
  readonly id: string;
  /** See {@link CounterOptions.printEvery}. */
  readonly printEvery: number;
  /** See {@link CounterOptions.message}. */
  readonly message: string;
  /** Shared memory (threads, inline), or undefined in a child process, where `#base` + `#added` stand in. */
  #cell: BigInt64Array | undefined;
  #base = 0;
  #added = 0;

  /** @internal Is `value` a Counter? A brand check: unlike instanceof, it runs no Proxy trap (a revoked one throws). */
  static holds(value: object): value is Counter {
    return #base in value;
  }

  constructor(options: CounterOptions = {}) {
    const rebuilt = (options as { [REBUILD]?: CounterState })[REBUILD];
    if (rebuilt) {
      // A worker's copy: the same id and settings, the same memory when it can see it.
      this.id = rebuilt.id;
      this.printEvery = rebuilt.printEvery;
      this.message = rebuilt.message;
      this.#cell = rebuilt.buffer ? new BigInt64Array(rebuilt.buffer) : undefined;
      this.#base = rebuilt.value;
      return;
    }
    const { printEvery = 0, message = 'Count: {}', initial = 0 } = options;
    if (!(Number.isInteger(printEvery) && printEvery >= 0)) throw new RangeError(`Expected \`printEvery\` to be a non-negative integer, got ${String(printEvery)}`);
    if (typeof message !== 'string') throw new TypeError(`Expected \`message\` to be a string, got ${typeof message}`);
    if (!Number.isSafeInteger(initial)) throw new RangeError(`Expected \`initial\` to be an integer, got ${String(initial)}`);
    this.id = `k${ORIGIN}.${nextId++}`;
    this.printEvery = printEvery;
    this.message = message;
    this.#cell = new BigInt64Array(new SharedArrayBuffer(8));
    this.#cell[0] = BigInt(initial);
    local.set(this.id, new WeakRef(this));
    forgetWhenCollected.register(this, this.id);
    noteReferenceInUse();
  }

  /** Add `by` (default 1) from any thread or process; returns the count as this side sees it. */
  increment(by = 1): number {
    if (!Number.isSafeInteger(by)) throw new RangeError(`Expected increment(by) to be an integer, got ${String(by)}`);
    if (!this.#cell) {
      // A child process: the main process holds the count, and prints.
      this.#added += by;
      mainChannel()?.post(counterKind.name, { id: this.id, by });
      return this.#base + this.#added;
    }
    const after = Number(Atomics.add(this.#cell, 0, BigInt(by))) + by;
    const every = this.printEvery;
    if (every && Math.floor(after / every) !== Math.floor((after - by) / every)) logLine(`${this.message.replace('{}', String(after))}\n`);
    return after;
  }

  /** The count: exact on threads and in the main thread; in a child process, the count when it first reached that process plus what the process added since. */
  get value(): number {
    return this.#cell ? Number(Atomics.load(this.#cell, 0)) : this.#base + this.#added;
  }

  /** @internal What a worker needs to rebuild this counter: its memory, when the worker can see it. */
  state(sharedMemory: boolean): CounterState {
    return { id: this.id, buffer: sharedMemory ? (this.#cell?.buffer as SharedArrayBuffer | undefined) : undefined, printEvery: this.printEvery, message: this.message, value: this.value };
  }

  /** @internal The counter for `state` on this side: the one this thread made, or one built once per worker. */
  static received(state: CounterState): Counter {
    const own = local.get(state.id)?.deref();
    if (own) return own;
    let counter = received.get(state.id);
    if (!counter) {
      counter = new Counter({ [REBUILD]: state } as CounterOptions);
      received.set(state.id, counter);
    }
    return counter;
  }

  /** @internal Apply an increment a child process reported. */
  static applyRemote(id: string, by: number): void {
    local.get(id)?.deref()?.increment(by);
  }

  /** The count, for JSON.stringify and logs. */
  toJSON(): object {
    return { counter: this.id, value: this.value };
  }
}

const REBUILD = Symbol('joblet.counter.rebuild');

/**
 * By reference: a Counter, by id. Its shared memory travels (threads, inline), or its settings
 * (processes, whose increments come back to the main process as messages). Rebuilt as soon as
 * it arrives: a closure that captured it finds it by id when it is rebuilt.
 */
export const counterKind: ReferenceKind<Counter, CounterState> = {
  name: 'counter',
  matches: (value): value is Counter => Counter.holds(value),
  send: (counter, { sharedMemory }) => ({ id: counter.id, state: counter.state(sharedMemory), runScoped: false }),
  // The one this side made or already received (its def came first), else one of its own (a process).
  rebuild: (state) => Counter.received(state),
  arrived: (state) => void Counter.received(state),
  inGraph: {
    // Inside a closure: by id; its memory travels beside the graph as a def (no buffer can go through v8.serialize).
    encode(counter, companion) {
      companion(counter);
      return { ...counter.state(false), value: 0 };
    },
    decode: (state: CounterState) => Counter.received(state),
  },
  receive(body) {
    const { id, by } = body as { id: string; by: number };
    Counter.applyRemote(id, by);
  },
};
