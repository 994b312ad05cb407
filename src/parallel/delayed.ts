import { types } from 'node:util';
import { describeValue } from './describe.js';

declare const RESULT: unique symbol;

/** A function call captured for later: made by `delayed(fn)(...args)`, run by `Parallel.run`. */
export interface Task<R = unknown> {
  /** The function the worker calls. */
  readonly fn: Function;
  /** The arguments it is called with. */
  readonly args: readonly unknown[];
  /** Type-only: the awaited result, so `run()` can infer it. */
  readonly [RESULT]?: R;
}

/**
 * A task of one argument keeps that argument alone, and makes its `args` array only when read:
 * `items.map((x) => delayed(f)(x))` is the commonest call, and 100,000 of them took 39 ms to
 * make with an array and a wrapper function each against 13-16 ms this way (they live through
 * the run, so each allocation is copied by the garbage collector before it dies).
 */
class DelayedTask implements Task {
  constructor(
    readonly fn: Function,
    private list: unknown[] | undefined,
    /** The one argument, while `list` is not made. */
    readonly only: unknown,
  ) {}

  get args(): readonly unknown[] {
    // Made once: what a caller does to the array is what the task is sent with. A frozen task
    // (Object.freeze) cannot take it: kept aside, the same array on every read.
    if (this.list === undefined && !Reflect.set(this, 'list', [this.only])) {
      let kept = frozenLists.get(this);
      if (!kept) {
        frozenLists.set(this, (kept = [this.only]));
        anyFrozenRead = true;
      }
      return kept;
    }
    return this.list!;
  }

  /** As a task's own `args` was before: what is set is what the task is sent with. */
  set args(value: readonly unknown[]) {
    this.list = value as unknown[];
    frozenLists.delete(this);
  }

  /** Made with exactly one argument (`only`), and `args` never read: once read, the array is the truth. */
  get hasSole(): boolean {
    return this.list === undefined && !(anyFrozenRead && frozenLists.has(this));
  }
}

/** The args arrays of frozen tasks of one argument, made when read (the task could not keep them). */
const frozenLists = new WeakMap<DelayedTask, unknown[]>();
/** Whether any is there: until then, hasSole asks nothing more of a task. */
let anyFrozenRead = false;

/**
 * A task of `fn` with the arguments after it. Bound to each function (as its first argument), not a
 * closure made per function: V8's optimized code allocated a closure's arguments object on every
 * call, for its length alone (100,000 tasks: 8.8 against 6.5 ms to make, and a collection every
 * 100,000 instead of every 150,000). Not bound as `this`: `new (delayed(f))(x)` (or
 * Reflect.construct) calls it with a fresh object as `this`, and made a task of that object.
 */
function makeTask(fn: Function, only?: unknown): Task {
  return arguments.length === 2 ? new DelayedTask(fn, undefined, only) : new DelayedTask(fn, Array.prototype.slice.call(arguments, 1), undefined);
}

/** The function `delayed(fn)` returns, one per fn (its identity carries nothing). */
const makers = new WeakMap<Function, (...args: unknown[]) => Task>();

/**
 * The last fn asked for and its maker, until the current job's microtasks run: `items.map((x) =>
 * delayed(f)(x))` asks for the same fn once per task, and the WeakMap lookup cost most of making
 * the task (100,000 tasks: 9.0-9.5 ms with a lookup each, 1.6 ms with this). Cleared so that a
 * function asked for once is not held after its caller is done with it.
 */
let lastFn: Function | undefined;
let lastMake: ((...args: unknown[]) => Task) | undefined;
let forgetQueued = false;
/**
 * Where forgetLast is queued: a promise's reaction, not queueMicrotask, which fake timers (Jest's,
 * sinon's) replace by default: the callback then waits for the fake clock, and the last function
 * asked for (with all it captures) stayed held.
 */
const settled = Promise.resolve();
const forgetLast = (): void => {
  lastFn = lastMake = undefined;
  forgetQueued = false;
};

/**
 * Capture a call for parallel execution: `delayed(fn)(a, b)` records `fn`
 * with the arguments `a, b` and runs nothing. Works with async functions; the
 * task's result type is the awaited return type.
 * @example await new Parallel().run([1, 2, 3].map((x) => delayed(square)(x)))
 */
export function delayed<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Task<Awaited<R>> {
  if (fn === lastFn && lastMake !== undefined) return lastMake as (...args: A) => Task<Awaited<R>>;
  if (typeof fn !== 'function') throw new TypeError(`delayed() expects a function, got ${describeValue(fn)}`);
  let make = makers.get(fn);
  if (!make) {
    make = makeTask.bind(undefined, fn) as (...args: unknown[]) => Task;
    makers.set(fn, make);
  }
  lastFn = fn;
  lastMake = make;
  if (!forgetQueued) {
    forgetQueued = true;
    void settled.then(forgetLast);
  }
  return make as (...args: A) => Task<Awaited<R>>;
}

export function isTask(value: unknown): value is Task {
  return value instanceof DelayedTask;
}

/**
 * Replaces the tasks of `tasks` from `from` on (the caller's own copy of run()'s Array) by their
 * one arguments, when each of them is a task of `fn` made with exactly one argument, a primitive,
 * whose `args` was never read; false, and `tasks` untouched, otherwise. In place: a new array per
 * batch was most of the main thread's allocation beside the caller's tasks. Runs none of the
 * caller's code (a proxy is refused before anything is asked of it).
 */
export function toSoleArguments(tasks: unknown[], from: number, fn: Function): boolean {
  for (let k = from; k < tasks.length; k++) {
    const task = tasks[k];
    if (!isPlainTask(task) || !task.hasSole || task.fn !== fn) return false;
    const only = task.only;
    if ((typeof only === 'object' && only !== null) || typeof only === 'function') return false;
  }
  // Not a new array made by tasks.map(): optimized code makes map's result holey (its length
  // first), and V8 posts a holey array to a worker as a sparse one, index by index as keys: 4 times
  // the cost of a packed array's postMessage (3.96 against 0.93 ms per run of 100,000 tasks).
  for (let k = from; k < tasks.length; k++) tasks[k] = (tasks[k] as DelayedTask).only;
  return true;
}

/** A task made with exactly one argument whose `args` was never read: `only` is that argument (else read `args`). */
export function hasSoleArgument(task: Task): task is Task & { readonly only: unknown } {
  return isPlainTask(task) && task.hasSole;
}

/**
 * A task whose `args` is the class's own getter: not a proxy (whose traps may answer `args` with
 * anything, and are not run: the check comes first) nor given an own `args`
 * (Object.defineProperty): those are sent with what `args` reads.
 */
function isPlainTask(task: unknown): task is DelayedTask {
  return typeof task === 'object' && task !== null && !types.isProxy(task) && task instanceof DelayedTask && !Object.hasOwn(task, 'args');
}

const arrayIterator = Array.prototype[Symbol.iterator];

/** An Array whose iteration is the standard one (not overridden on it or a subclass): its elements, read by index. */
export function iteratesAsArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value) && (value as unknown[])[Symbol.iterator] === arrayIterator;
}

const builtInSpecies = Object.getOwnPropertyDescriptor(Array, Symbol.species)?.get;

/**
 * An Array whose slice() is a plain copy of its items, running none of the caller's code: not a
 * proxy, of Array's own prototype, with Array's constructor and species as built in.
 */
export function slicesPlainly(array: readonly unknown[]): boolean {
  return (
    !types.isProxy(array) &&
    Object.getPrototypeOf(array) === Array.prototype &&
    !Object.hasOwn(array, 'constructor') &&
    Object.getOwnPropertyDescriptor(Array.prototype, 'constructor')?.value === Array &&
    Object.getOwnPropertyDescriptor(Array, Symbol.species)?.get === builtInSpecies
  );
}

/**
 * `map(fn, items)` over an Array: the tasks `delayed(fn)(item)`, which the scheduler reads by
 * index with no Task, and no generator step, per item (and knows how many there are). Iterated
 * as any input, it yields those tasks.
 */
export class MappedArray {
  constructor(
    readonly fn: Function,
    readonly items: readonly unknown[],
  ) {}

  *[Symbol.iterator](): Iterator<Task> {
    for (const item of this.items) yield new DelayedTask(this.fn, undefined, item);
  }
}

