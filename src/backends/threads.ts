import { Worker } from 'node:worker_threads';
import { WorkerPool, type SpawnWorker } from './pool.js';
import type { BackendFactory } from './types.js';

// The runtime is compiled beside this module; workers load the JavaScript file.
const entry = new URL('../runtime/threadWorker.js', import.meta.url);

export const spawnThread: SpawnWorker = (events) => {
  const worker = new Worker(entry);
  let reason: string | undefined;
  worker.on('message', events.message);
  // Emitted before 'exit' for an uncaught exception or an out-of-memory stop.
  worker.on('error', (error) => {
    reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  });
  worker.on('exit', (code) => events.exit({ code, signal: null, reason }));
  worker.unref();
  return {
    send: (message, transfer) => worker.postMessage(message, transfer),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    terminate: async () => {
      await worker.terminate();
    },
  };
};

/** worker_threads: cheap to start, shared memory possible, a crash takes only its thread. */
export const createThreadsBackend: BackendFactory = ({ nWorkers, perWorkerBufferSize }) =>
  new WorkerPool('threads', nWorkers, { sharedMemory: true, isolation: 'thread', clonesMessages: true }, spawnThread, perWorkerBufferSize);
