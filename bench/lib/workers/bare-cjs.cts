/** bare.ts as CommonJS, for bench/workerStart.ts: Node starts a CommonJS worker sooner than an ES module one. */
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
