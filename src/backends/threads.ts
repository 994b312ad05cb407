import { Worker } from 'node:worker_threads';
import { WorkerPool, type SpawnWorker } from './pool.js';
import type { BackendFactory, WorkerResourceLimits } from './types.js';
import type { FromWorker } from '../runtime/protocol.js';
import { compactBatch, expandReply, type CompactReply } from '../runtime/compactWire.js';
import { createWake, notifyPosted } from '../runtime/wake.js';
import { PROGRESS_BYTES, readProgress } from '../runtime/progress.js';

// The runtime is compiled beside this module; workers load the JavaScript file.
const entry = new URL('../runtime/threadWorker.js', import.meta.url);

/**
 * A worker thread inherits the parent's Node flags, and `--input-type` (from `node --input-type=module -e ...`)
 * makes a worker started from a file fail at once. Without it the flags are passed explicitly; Node
 * refuses some flags there (process-wide ones such as --max-old-space-size), and then none are passed.
 */
function startThread(wake: Int32Array, progress: Float64Array, setup: ThreadSetup): Worker {
  const workerData = { wake, progress, reportMemory: setup.reportMemory };
  const resourceLimits = setup.resourceLimits;
  const flags = process.execArgv;
  const kept: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === '--input-type') i++;
    else if (!flags[i]!.startsWith('--input-type=')) kept.push(flags[i]!);
  }
  if (kept.length === flags.length) return new Worker(entry, { workerData, resourceLimits });
  try {
    return new Worker(entry, { workerData, resourceLimits, execArgv: kept });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(entry, { workerData, resourceLimits, execArgv: [] });
  }
}

/** How each thread of a pool starts. */
export interface ThreadSetup {
  /** Node's own `resourceLimits` of a Worker. */
  resourceLimits?: WorkerResourceLimits | undefined;
  /** The thread adds its heap in use to each reply (the pool recycles by memory). */
  reportMemory?: boolean | undefined;
}

/** A SpawnWorker for threads started with `setup`. */
export const threadSpawner =
  (setup: ThreadSetup = {}): SpawnWorker =>
  (events) => {
    const wake = createWake();
    // Where the thread is in its batch, read if it dies (runtime/progress.ts).
    const progress = new Float64Array(new SharedArrayBuffer(PROGRESS_BYTES));
    const worker = startThread(wake, progress, setup);
    let reason: string | undefined;
    let outOfMemory = false;
    worker.on('message', (message: FromWorker | CompactReply) => events.message(expandReply(message)));
    // Emitted before 'exit' for an uncaught exception or an out-of-memory stop.
    worker.on('error', (error) => {
      reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      outOfMemory ||= (error as { code?: string } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    });
    worker.on('exit', (code) =>
      events.exit({ code, signal: null, reason, outOfMemory, memoryLimitMb: outOfMemory ? setup.resourceLimits?.maxOldGenerationSizeMb : undefined, progress: readProgress(progress) }),
    );
    worker.unref();
    return {
      send: (message, transfer) => {
        worker.postMessage(compactBatch(message), transfer);
        notifyPosted(wake);
      },
      ref: () => worker.ref(),
      unref: () => worker.unref(),
      terminate: async () => {
        await worker.terminate();
      },
    };
  };

/** A thread with no limits and no memory reports. */
export const spawnThread: SpawnWorker = threadSpawner();

/** worker_threads: cheap to start, shared memory possible, a crash takes only its thread. */
export const createThreadsBackend: BackendFactory = ({ nWorkers, perWorkerBufferSize, resourceLimits, maxTasksPerWorker, maxWorkerMemory }) =>
  new WorkerPool(
    'threads',
    nWorkers,
    { sharedMemory: true, isolation: 'thread', clonesMessages: true },
    threadSpawner({ resourceLimits, reportMemory: maxWorkerMemory !== undefined }),
    { perWorkerBufferSize, maxTasksPerWorker, maxWorkerMemory },
  );
