/**
 * What one conformance case is. A case is a function taken from real code
 * (compiled output, an installed package, or a hand-written program of a
 * kind issue 13 lists) with its arguments; the expected answer is the same
 * call in this thread.
 */

/** Where a case's function comes from: the column 'source' of the report. */
export type SourceKind =
  | 'tsc-es2022'
  | 'tsc-cjs'
  | 'tsc-es5'
  | 'esbuild-esm'
  | 'esbuild-cjs-min'
  | 'tsx'
  | 'lodash'
  | 'lodash-es'
  | 'zod'
  | 'immer'
  | 'mathjs'
  | 'handwritten';

export type TaskFn = (...args: any[]) => unknown;

export interface Case {
  name: string;
  source: SourceKind;
  /** The function sent to the worker. Give `fresh` instead when calling it changes what it captures. */
  fn?: TaskFn;
  /**
   * Builds the case's function anew, so the main-thread call that computes the
   * expected answer does not change the state the workers' copy captures.
   */
  fresh?: () => TaskFn;
  args?: unknown[];
  /** The expected answer, when it is not the main-thread call's. */
  expect?: unknown;
  /** Runs of the same function in a row (issue 13, item 11): each must answer `expect`. */
  runs?: number;
  /** The function returns a generator: both sides drain it into an array. */
  drain?: boolean;
  /**
   * The call throws: the worker must throw the same name and message, and the
   * worker's stack must name this file (issue 13, item 12).
   */
  throwsFrom?: string;
  /**
   * Capture is known to be able to block for many seconds (issue 13, item 9):
   * the first capture is timed in a child process with a cap, so a slow case
   * cannot hold the suite; past the cap the case is SLOW and not run.
   */
  heavy?: boolean;
}

/** The function a case sends, built anew where the case asks for it. */
export const caseFn = (c: Case): TaskFn => {
  if (c.fresh) return c.fresh();
  if (c.fn) return c.fn;
  throw new Error(`case '${c.name}' has neither fn nor fresh`);
};

/** The task a case runs: its function, or a wrapper that drains its generator where it runs. */
export function taskOf(c: Case, fn: TaskFn): TaskFn {
  if (!c.drain) return fn;
  return async (...args: unknown[]) => {
    const out = fn(...args);
    const items: unknown[] = [];
    if (out && typeof (out as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      for await (const item of out as AsyncIterable<unknown>) items.push(item);
    } else {
      for (const item of out as Iterable<unknown>) items.push(item);
    }
    return items;
  };
}
