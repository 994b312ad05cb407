import type { BackendFactory } from './types.js';
import { createThreadsBackend } from './threads.js';
import { createProcessesBackend } from './processes.js';
import { createInlineBackend } from './inline.js';
import { createBullmqBackend } from './bullmq/factory.js';

/**
 * A backend's name: a built-in one, or any name given to registerBackend().
 * `string & {}` accepts every string while editors still offer the built-in names.
 */
export type BackendName = 'threads' | 'processes' | 'inline' | 'bullmq' | (string & {});

const factories = new Map<string, BackendFactory>([
  ['threads', createThreadsBackend],
  ['processes', createProcessesBackend],
  ['inline', createInlineBackend],
  // bullmq and ioredis load on the backend's first run, never at import.
  ['bullmq', createBullmqBackend],
]);

/**
 * Make a backend available as `backend: name`. The factory is called once
 * per `Parallel` (pools are reused across its runs) with the number of
 * workers wanted. See {@link Backend} for the contract.
 */
export function registerBackend(name: BackendName, factory: BackendFactory): void {
  if (typeof name !== 'string' || !name) throw new TypeError(`registerBackend expects a non-empty name, got \`${String(name)}\``);
  if (typeof factory !== 'function') throw new TypeError(`registerBackend expects a factory function for '${name}', got ${typeof factory}`);
  factories.set(name, factory);
}

/** Names of the registered backends, built-ins first. */
export function listBackends(): string[] {
  return [...factories.keys()];
}

export function getBackendFactory(name: BackendName): BackendFactory {
  const factory = factories.get(name);
  if (!factory) throw new RangeError(`Unknown backend '${name}'. Registered backends: ${listBackends().join(', ')}. Add one with registerBackend().`);
  return factory;
}
