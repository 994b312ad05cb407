/**
 * The options that bound a worker's life and memory: `resourceLimits`, `maxTasksPerWorker`,
 * `maxWorkerMemory`. Validated here (options.ts calls it), read by the threads and processes
 * pools, ignored by backends without workers of their own (inline; bullmq's own workers take
 * theirs from `joblet worker`).
 */
import type { WorkerResourceLimits } from '../backends/types.js';
import { parseBytes } from '../sharing/bytes.js';
import { describeValue } from './describe.js';

const LIMIT_KEYS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const;

/** What the pool is given of these options. */
export interface WorkerLimits {
  resourceLimits: WorkerResourceLimits | undefined;
  maxTasksPerWorker: number | undefined;
  /** In bytes. */
  maxWorkerMemory: number | undefined;
}

/** The options as given (a Parallel's or a scope's). */
interface Given {
  resourceLimits?: WorkerResourceLimits | undefined;
  maxTasksPerWorker?: number | undefined;
  maxWorkerMemory?: number | string | null | undefined;
}

/** Throws a TypeError or RangeError naming the option and the value. */
export function validateWorkerLimits(options: Given): void {
  const { resourceLimits, maxTasksPerWorker, maxWorkerMemory } = options;
  if (resourceLimits !== undefined) {
    if (typeof resourceLimits !== 'object' || resourceLimits === null || Array.isArray(resourceLimits)) {
      throw new TypeError(`Expected \`resourceLimits\` to be an object such as { maxOldGenerationSizeMb: 512 }, got ${describeValue(resourceLimits)}`);
    }
    for (const [key, value] of Object.entries(resourceLimits)) {
      if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
        throw new TypeError(`Unknown key \`resourceLimits.${key}\`. Known keys (Node's Worker resourceLimits): ${LIMIT_KEYS.join(', ')}`);
      }
      if (value === undefined) continue;
      // A stack may be a fraction of a megabyte; the heap sizes are whole megabytes, as V8's flags take them.
      const ok = key === 'stackSizeMb' ? typeof value === 'number' && value > 0 && Number.isFinite(value) : Number.isInteger(value) && (value as number) > 0;
      if (!ok) {
        throw new (typeof value === 'number' ? RangeError : TypeError)(
          `Expected \`resourceLimits.${key}\` to be a positive ${key === 'stackSizeMb' ? 'number' : 'integer'} of megabytes, got ${describeValue(value)}`,
        );
      }
    }
  }
  if (maxTasksPerWorker !== undefined && !(Number.isInteger(maxTasksPerWorker) && maxTasksPerWorker > 0)) {
    throw new (typeof maxTasksPerWorker === 'number' ? RangeError : TypeError)(
      `Expected \`maxTasksPerWorker\` to be a positive integer (tasks a worker runs before it is replaced), got ${describeValue(maxTasksPerWorker)}`,
    );
  }
  if (maxWorkerMemory !== undefined && maxWorkerMemory !== null && !((parseBytes(maxWorkerMemory, 'maxWorkerMemory') ?? 0) > 0)) {
    throw new RangeError(`Expected \`maxWorkerMemory\` to be more than 0 bytes (a number of bytes or a string like '512M'; null for no limit), got ${describeValue(maxWorkerMemory)}`);
  }
}

/** The options resolved: `options` beats `scope`; undefined where neither sets one (null turns maxWorkerMemory off). */
export function resolveWorkerLimits(options: Given, scope: Given): WorkerLimits {
  const memory = options.maxWorkerMemory !== undefined ? options.maxWorkerMemory : scope.maxWorkerMemory;
  return {
    resourceLimits: options.resourceLimits ?? scope.resourceLimits,
    maxTasksPerWorker: options.maxTasksPerWorker ?? scope.maxTasksPerWorker,
    maxWorkerMemory: memory === undefined || memory === null ? undefined : parseBytes(memory, 'maxWorkerMemory')!,
  };
}
