/**
 * The baseline of bench/workerStart.ts: a worker that loads nothing of its own, says 'ready'
 * and answers each batch (joblet's message shape) with its arguments plus one. Runs as a worker
 * thread or as a forked child process; a CommonJS twin is bare-cjs.cts.
 */
import { parentPort } from 'node:worker_threads';

type Batch = { type: 'batch'; batch: { id: number; args: number[] } };
const answer = (message: Batch) => ({ type: 'reply', batchId: message.batch.id, values: message.batch.args.map((x) => x + 1) });

if (parentPort) {
  const port = parentPort;
  port.on('message', (message: Batch) => port.postMessage(answer(message)));
  port.postMessage({ type: 'ready' });
} else {
  process.on('message', (message: Batch) => process.send!(answer(message)));
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready' });
}
