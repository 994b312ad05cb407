/**
 * Which task a promise rejected with no handler belongs to, in a worker. Node would kill the worker
 * (and the reply of the task that left it may already be gone, so the crash names a later task, or
 * none): instead the rejection becomes that task's failure. A V8 promise hook stamps each promise
 * with its task: its parent's (a chain stays its task's), else the task of the async context it
 * was made in, else the task running, else (between tasks) the last task started, marked as not
 * certain.
 *
 * The async context follows a task's work past its own call: the rest of an async function after
 * an await, and the callbacks of the timers, immediates, ticks and microtasks it scheduled, which
 * may run while a later task of the batch does (before, a rejection made in task A's timer was
 * blamed on the task B running then). It is kept here rather than by AsyncLocalStorage, whose
 * async hooks cost every await about three times as much (bench/rejections.ts): the promise hook
 * already stamps each promise, and its before/after hooks restore the context a continuation was
 * made in; the scheduling globals carry it to their callbacks. Callbacks of I/O (fs, sockets,
 * streams) and timers imported from 'node:timers' run without it and fall back to the task running.
 */
import v8 from 'node:v8';
import { progress } from './progress.js';

/** A task a promise is attributed to: `within` when it was made while the task ran. */
export interface TaskTag {
  readonly batch: number;
  readonly index: number;
  readonly within: boolean;
}

/** One task's async context: its two tags, made once, so stamping a promise allocates nothing. */
interface TaskContext {
  readonly during: TaskTag;
  readonly after: TaskTag;
  settled: boolean;
}

const TAG = Symbol('joblet.task');
const CONTEXT = Symbol('joblet.taskContext');
type Stamped = { [TAG]?: TaskTag; [CONTEXT]?: TaskContext };

/** A context as the tracker reuses it (see enter); to everything else its tags are read-only. */
interface MutableContext {
  readonly during: { batch: number; index: number; readonly within: true };
  readonly after: { batch: number; index: number; readonly within: false };
  settled: boolean;
}

const tagOf = (context: TaskContext): TaskTag => (context.settled ? context.after : context.during);

class RejectionTracker {
  /** Set in a worker by trackRejections(); inline, the main process is the user's and is left alone. */
  enabled = false;
  /** Promises made so far: a batch during which none was made cannot have left a rejection. */
  made = 0;
  /** The task running now, or the last one started (`within` false) between tasks. */
  current: TaskTag | undefined;
  /** The async context of the code running now: a task's call, or work it left; undefined outside. */
  ambient: TaskContext | undefined;
  private running: TaskContext | undefined;

  /** Contexts handed to work that outlives its call (a scheduled callback), as `made` counts promises stamped with one. */
  private bound = 0;
  /** The last context made, and `made + bound` when its task entered: unchanged since, nothing holds it. */
  private last: MutableContext | undefined;
  private lastSeen = -1;

  /** A task starts: promises made from now on, and in the async work it starts, are its own. */
  enter(batch: number, index: number): void {
    if (!this.enabled) return;
    const seen = this.made + this.bound;
    let context = this.last;
    // No promise and no callback took the last task's context: it serves again (three objects a
    // task fewer for 10,000 tasks of x + 1). Else a new one: what took the old one keeps its task.
    if (context && seen === this.lastSeen) {
      context.during.batch = context.after.batch = batch;
      context.during.index = context.after.index = index;
      context.settled = false;
    } else context = this.last = { during: { batch, index, within: true }, after: { batch, index, within: false }, settled: false };
    this.lastSeen = seen;
    this.running = context;
    this.current = context.during;
  }

  /** Calls the task that `enter` started in its own async context. */
  run<T>(call: () => T): T {
    return this.running ? this.within(this.running, call, undefined, []) : call();
  }

  /**
   * `run` without a closure, for the caller's own call: makes the running task's context current
   * and returns the one to give back to `restore` (in a finally) once the call returned.
   */
  begin(): TaskContext | undefined {
    const outer = this.ambient;
    if (this.running) this.ambient = this.running;
    return outer;
  }

  restore(outer: TaskContext | undefined): void {
    this.ambient = outer;
  }

  /** The task settled: what is made from now on, by it or in its context, is only "during or after" it. */
  leave(): void {
    if (!this.running) return;
    this.running.settled = true;
    this.current = this.running.after;
    this.running = undefined;
  }

  /** `callback`, to be called later in the async context current now (when there is one). */
  bind<F>(callback: F): F {
    const context = this.ambient;
    if (!context || typeof callback !== 'function') return callback;
    this.bound++;
    const within = this.within.bind(this);
    return function (this: unknown, ...args: unknown[]) {
      try {
        return within(context, callback as (...a: unknown[]) => unknown, this, args);
      } catch (error) {
        // Uncaught from a timer, an immediate or a tick: the worker dies of it, and the pool names the task.
        progress.thrownBy(context.during.index);
        throw error;
      }
    } as F;
  }

  private within<T>(context: TaskContext, call: (...args: unknown[]) => T, self: unknown, args: unknown[]): T {
    const outer = this.ambient;
    this.ambient = context;
    try {
      return call.apply(self, args);
    } finally {
      this.ambient = outer;
    }
  }
}

/** The worker's one tracker; the task runner tells it when tasks start and end. */
export const rejections = new RejectionTracker();

/** The scheduling functions whose callbacks keep the async context they were scheduled in. */
function carryContextThroughSchedulers(): void {
  const wrap = <F extends (callback: never, ...rest: never[]) => unknown>(original: F): F => {
    const wrapped = function (this: unknown, callback: unknown, ...rest: unknown[]) {
      return (original as unknown as (...a: unknown[]) => unknown).call(this, rejections.bind(callback), ...rest);
    };
    // Keeps what hangs on the original: setTimeout[util.promisify.custom], its name and length.
    Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original));
    return wrapped as unknown as F;
  };
  globalThis.setTimeout = wrap(globalThis.setTimeout);
  globalThis.setInterval = wrap(globalThis.setInterval);
  globalThis.setImmediate = wrap(globalThis.setImmediate);
  globalThis.queueMicrotask = wrap(globalThis.queueMicrotask);
  process.nextTick = wrap(process.nextTick);
}

/**
 * Start attributing unhandled rejections in this worker (a thread or a process): `report` gets the
 * task and the reason. A rejection with no task to blame (none ran yet) is left to Node: the
 * worker dies and its crash names why.
 */
export function trackRejections(report: (tag: TaskTag, reason: unknown) => void): void {
  rejections.enabled = true;
  // The contexts of the continuations running, innermost last (a continuation runs inside another's only through a nested hook).
  const outer: (TaskContext | undefined)[] = [];
  v8.promiseHooks.createHook({
    init(promise, parent) {
      rejections.made++;
      const context = rejections.ambient;
      if (context) (promise as Stamped)[CONTEXT] = context;
      const tag = (parent as Stamped | undefined)?.[TAG] ?? (context ? tagOf(context) : rejections.current);
      if (tag) (promise as Stamped)[TAG] = tag;
    },
    // A reaction (the rest of an async function, a then callback) runs in the context its promise was made in.
    before(promise) {
      outer.push(rejections.ambient);
      rejections.ambient = (promise as Stamped)[CONTEXT];
    },
    after() {
      rejections.ambient = outer.pop();
    },
  });
  carryContextThroughSchedulers();
  process.on('unhandledRejection', (reason, promise) => {
    const tag = (promise as Stamped)[TAG] ?? rejections.current;
    if (!tag) throw reason;
    report(tag, reason);
  });
}
