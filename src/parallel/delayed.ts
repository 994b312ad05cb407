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

class DelayedTask implements Task {
  constructor(
    readonly fn: Function,
    readonly args: readonly unknown[],
  ) {}
}

/**
 * Capture a call for parallel execution: `delayed(fn)(a, b)` records `fn`
 * with the arguments `a, b` and runs nothing. Works with async functions; the
 * task's result type is the awaited return type.
 * @example await new Parallel().run([1, 2, 3].map((x) => delayed(square)(x)))
 */
export function delayed<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Task<Awaited<R>> {
  if (typeof fn !== 'function') throw new TypeError(`delayed() expects a function, got ${describeValue(fn)}`);
  return (...args: A) => new DelayedTask(fn, args) as Task<Awaited<R>>;
}

export function isTask(value: unknown): value is Task {
  return value instanceof DelayedTask;
}
