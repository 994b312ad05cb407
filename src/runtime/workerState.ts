/**
 * What the `initializer` option returned in this worker, for the tasks: `workerState()`. A task's
 * signature is the user's, so the state is not an argument but read from here.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The initializer's result, boxed: `undefined` is a result too. */
export interface StateHolder {
  value: unknown;
}

/**
 * In a worker, batches and their tasks run one after another, so the batch's state is a plain
 * variable, set for the whole batch (a task reads it after an await too). Inline, tasks of two
 * Parallels share the main thread and their awaits interleave: the state then follows each task's
 * async context. AsyncLocalStorage costs a promise hook per promise once used, so only inline uses it.
 */
let batchState: StateHolder | undefined;
const sameThread = new AsyncLocalStorage<StateHolder>();

/** Set (or clear, with undefined) the state of the batch this worker runs. */
export function setBatchState(holder: StateHolder | undefined): void {
  batchState = holder;
}

/** Call `fn` with `holder` as the state of what it starts (inline: the main thread). */
export function withState<T>(holder: StateHolder, fn: () => T): T {
  return sameThread.run(holder, fn);
}

/**
 * What the `initializer` option returned in this worker (awaited), for a task to use: a database
 * connection, a loaded model, a cache. The initializer runs once per worker before its first task
 * (once per `Parallel` on the inline backend), and again in a worker that replaces one that died.
 * Throws outside a task, or when the run has no initializer.
 * @example
 * const parallel = new Parallel({ initializer: async () => ({ db: await connect(url) }) });
 * await parallel.map(async (id: number) => workerState<{ db: Db }>().db.get(id), ids);
 */
export function workerState<T = unknown>(): T {
  const held = sameThread.getStore() ?? batchState;
  if (!held) {
    throw new Error(
      'workerState() has no state here: it works inside a task (in its worker) of a run with an initializer, ' +
        'as in new Parallel({ initializer: () => ({ db: connect() }) }) or run(tasks, { initializer }). ' +
        'Outside a task (in the main thread, or in code a task left running after it returned) there is none.',
    );
  }
  return held.value as T;
}
