/**
 * Entry of the worker thread in which compareSerializers rebuilds each
 * encoded value. It imports the registry and the fingerprint only, as the
 * runtime's workers do: nothing of the main thread's modules is loaded here,
 * so a function rebuilt from source sees what a task's worker would see.
 */
import '../sharing/kinds.js';
import { parentPort } from 'node:worker_threads';
import { loadSerializer } from '../serialize/registry.js';
import { FALLBACK_SERIALIZER } from '../serialize/wrap.js';
import { decodeLikeARun } from './encoding.js';
import { fingerprint } from './fingerprint.js';
import type { FidelityAnswer, FidelityRequest } from './fidelityChecker.js';

const port = parentPort;
if (!port) throw new Error('joblet: fidelityWorker.js must be started as a worker thread');

port.on('message', async ({ id, serializer: name, module, encoded }: FidelityRequest) => {
  let answer: FidelityAnswer;
  try {
    let serializer;
    try {
      serializer = await loadSerializer(name, module);
    } catch (error) {
      throw new Error(
        module === undefined
          ? `serializer '${name}' is unknown in a worker: register it with registerSerializer(serializer, { module: import.meta.url }) so that workers can load it`
          : `serializer '${name}' could not be loaded in a worker from ${module}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const value = decodeLikeARun(encoded, serializer, await loadSerializer(FALLBACK_SERIALIZER));
    answer = { id, ok: true, print: fingerprint(value) };
  } catch (error) {
    answer = { id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(answer);
});
