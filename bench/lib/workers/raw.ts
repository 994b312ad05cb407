/**
 * A bare worker_threads worker for the baselines (bench/lib/raw-pool.ts): a
 * number is one task (answered with `x + 1`), an array is a batch of them
 * (answered with an array), `{ iterations, seed }` is one busy loop.
 * Replies go in the order the messages came, which is how the main thread
 * matches them (no ids on the wire).
 */
import { parentPort } from 'node:worker_threads';
import { spin } from './spin.js';

const port = parentPort!;
port.on('message', (message: number | number[] | { iterations: number; seed: number }) => {
  if (typeof message === 'number') port.postMessage(message + 1);
  else if (Array.isArray(message)) port.postMessage(message.map((x) => x + 1));
  else port.postMessage(spin(message.iterations, message.seed));
});
