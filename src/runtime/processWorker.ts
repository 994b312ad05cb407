/** Entry of a child process: receive batches over IPC, answer each with one message. */
import { loadAfterReady } from './onDemand.js';
import { TaskRunner } from './taskRunner.js';
import { markWorkerRealm } from '../closure/classRegistry.js';
import { connectToMain } from '../values/mainChannel.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { REPORT_MEMORY_ARG, heapInUse } from './memory.js';
import { writeSync } from 'node:fs';
import { trackRejections } from './rejections.js';
import { PROGRESS_FD, progressLine } from './progress.js';

if (!process.send) throw new Error('joblet: processWorker.js must be started with an IPC channel (child_process.fork)');

// The main thread holds every class it sends: a class sent back goes by id.
markWorkerRealm();
const runner = new TaskRunner();
const send = (message: FromWorker, done?: () => void) => process.send!(message, undefined, {}, done);
// A Counter's count lives in the main process: increments go there, ahead of the batch's reply on the same channel.
connectToMain({
  post: (kind, body) => send({ type: 'ref', kind, body }),
  log: (text) => void process.stderr.write(text),
});

// A promise a task left rejected with no handler fails that task (in its batch's reply, or on its
// own once the reply went) instead of killing the process: it is the task's error, not a crash.
trackRejections((tag, reason) => {
  const result = runner.rejected(tag, reason);
  if (result) send({ type: 'rejection', batchId: tag.batch, result });
});

// Batches arrive ahead of time; they run one after another, never interleaved.
let previous: Promise<unknown> = Promise.resolve();
// Batches cancelled while they waited their turn here: they never start.
const cancelled = new Set<number>();
// Set by a pool that recycles workers by memory: each reply says how much this process's heap holds.
const reportMemory = process.argv.includes(REPORT_MEMORY_ARG);

process.on('message', (message: ToWorker) => {
  if (message.type === 'forget') return runner.forget(message.ids);
  if (message.type === 'cancel') return void cancelled.add(message.batchId);
  const { batch } = message;
  previous = previous.then(() => (cancelled.delete(batch.id) ? { failures: [] } : runner.runBatch(batch, true))).then(
    (answer) => {
      if (reportMemory) answer.memory = heapInUse();
      try {
        send({ type: 'reply', batchId: batch.id, ...answer });
      } catch {
        // The IPC channel refused a value (a symbol, say): the serializer carries it, or names it.
        send({ type: 'reply', batchId: batch.id, ...runner.repack(batch, answer) });
      }
    },
    (error) => {
      // runBatch does not reject by design; if it ever does, die loudly rather than leave the batch waiting.
      throw error;
    },
  );
});

send({ type: 'ready' });
loadAfterReady();

// Dying (process.exit() in a task, an uncaught exception): where it was in its batch goes to the
// pool on a pipe of its own, written before the process ends, where a message might not be.
process.on('exit', () => {
  try {
    writeSync(PROGRESS_FD, progressLine());
  } catch {
    /* started without the pipe */
  }
});

// The parent went away (it exited without close(), or was killed): nothing left to serve.
process.on('disconnect', () => process.exit(0));

// An exception outside any task: tell the parent why, then die so the pool replaces this worker.
process.on('uncaughtException', (error) => {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  try {
    send({ type: 'fatal', message }, () => process.exit(1));
  } catch {
    process.exit(1);
  }
});
