import { AsyncLocalStorage } from 'node:async_hooks';
import { validateConfigOptions, type ConfigOptions } from './options.js';

interface Scope extends ConfigOptions {
  /** Set by noParallel(): every Parallel in the scope runs inline. */
  disabled?: boolean;
}

const storage = new AsyncLocalStorage<Scope>();

/** The scoped defaults in force here (empty outside any parallelConfig). */
export function currentScope(): Readonly<Scope> {
  return storage.getStore() ?? {};
}

/**
 * Run `fn` with scoped defaults for every `Parallel` constructed inside it,
 * across awaits (joblib's `parallel_config`). An option given to
 * `new Parallel()` beats the scope; the scope beats the built-in default;
 * an inner scope beats an outer one.
 * @example await parallelConfig({ backend: 'processes', nJobs: 2 }, () => main())
 */
export function parallelConfig<T>(options: ConfigOptions, fn: () => T): T {
  validateConfigOptions(options, 'parallelConfig()');
  if (typeof fn !== 'function') throw new TypeError('parallelConfig(options, fn) expects a function as its second argument');
  // undefined means "not set here"; null is a value (maxNbytes: null turns sharing off).
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return storage.run({ ...currentScope(), ...defined }, fn);
}

/**
 * Run `fn` with parallelism switched off: every `Parallel` constructed inside
 * runs its tasks inline, one at a time in the main thread, whatever backend
 * it names (pynitride's `no_parallel`). Useful under a debugger or a profiler.
 * @example await noParallel(() => main())
 */
export function noParallel<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('noParallel(fn) expects a function');
  return storage.run({ ...currentScope(), disabled: true }, fn);
}

/** False inside noParallel(). */
export function parallelEnabled(): boolean {
  return !currentScope().disabled;
}
