/**
 * Where the time of a copied task goes: each copy behind the sharing cases
 * timed alone on a bare worker thread (encode, send the bytes, decode; send
 * the value itself), before the suites. A copied joblet task is encode +
 * send + decode, a piscina task one send, and automatic sharing the floor
 * plus one send per worker, spread over the run.
 */
import { serialize } from 'node:v8';
import { Worker } from 'node:worker_threads';

/** What one step of moving a payload costs, in ms: the fastest of a few tries (noise only ever adds time). */
export interface Steps {
  /** v8.serialize in this thread: what joblet's serializer does to a copied task's arguments. */
  encode: number;
  /** The encoded bytes posted to a worker (a copy here, one there) until it has them: the second copy of a copied task. */
  sendBytes: number;
  /** The same bytes transferred instead (postMessage's transferList): no copy, what the second copy could cost. */
  transferBytes: number;
  /** v8.deserialize of those bytes in the worker: the third. */
  decode: number;
  /** The value itself posted to a worker, the transport's clone until the worker has it: what piscina and automatic sharing pay per send. */
  sendValue: number;
}

/**
 * The copies behind each case, one at a time, on a bare worker thread of
 * its own (no pool, no other work): to say where a copied task's time goes.
 */
export async function measureSteps(payloads: unknown[], tries: number): Promise<Steps[]> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { deserialize } = require('node:v8');
     parentPort.on('message', ({ bytes }) => {
       const begun = performance.now();
       if (bytes) deserialize(bytes);
       parentPort.postMessage(performance.now() - begun);
     });`,
    { eval: true },
  );
  const reply = () => new Promise<number>((resolve) => worker.once('message', resolve));
  const post = async (message: object, transfer: ArrayBuffer[] = []) => {
    const answered = reply();
    const begun = performance.now();
    worker.postMessage(message, transfer);
    const decode = await answered;
    return { ms: performance.now() - begun - decode, decode };
  };
  try {
    await post({});
    const steps: Steps[] = [];
    for (const payload of payloads) {
      const fastest: Steps = { encode: Infinity, sendBytes: Infinity, transferBytes: Infinity, decode: Infinity, sendValue: Infinity };
      for (let k = 0; k < tries; k++) {
        const begun = performance.now();
        const bytes = serialize([k, payload]);
        fastest.encode = Math.min(fastest.encode, performance.now() - begun);
        const sent = await post({ bytes });
        fastest.sendBytes = Math.min(fastest.sendBytes, sent.ms);
        fastest.decode = Math.min(fastest.decode, sent.decode);
        // A large v8.serialize output owns its ArrayBuffer (no pool slice), so it can be transferred.
        const transferred = await post({ bytes }, [bytes.buffer as ArrayBuffer]);
        fastest.transferBytes = Math.min(fastest.transferBytes, transferred.ms);
        fastest.sendValue = Math.min(fastest.sendValue, (await post({ value: payload })).ms);
      }
      steps.push(fastest);
    }
    return steps;
  } finally {
    await worker.terminate();
  }
}

export const stepsLine = (what: string, s: Steps) =>
  `${what}: encode ${s.encode.toFixed(1)} ms, send the bytes ${s.sendBytes.toFixed(1)} ms (transferred: ${s.transferBytes.toFixed(1)} ms), decode ${s.decode.toFixed(1)} ms; send the value itself ${s.sendValue.toFixed(1)} ms`;

/** A copied task's three copies in a row, in ms. */
export const copies = (s: Steps) => s.encode + s.sendBytes + s.decode;
