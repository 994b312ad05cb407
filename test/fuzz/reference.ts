/**
 * The fuzzer's reference: what a serializer's own round trip makes of a value (its documented
 * losses: JSON's, devalue's, structured clone's; closure and auto lose nothing), or that it
 * refuses it. The runner compares what a worker answered with it.
 *
 * A round trip that runs out of this thread's stack (a value 1,000 levels deep that
 * serialize-javascript writes, but whose source text this thread cannot eval) is made again in a
 * worker thread, on the threads backend: a worker thread has a larger stack (4 MB by default), so
 * the worker may decode what this thread encoded. A child process has this thread's stack: there,
 * it is refused (case 184 of seed 20261206).
 */
import { Worker } from 'node:worker_threads';
import * as devalue from 'devalue';
import serializeJavascript from 'serialize-javascript';
import type { FuzzCase, Recipe } from './recipes.js';
import { describe } from './describe.js';
import { estimateBytes } from '../../src/sharing/bytes.js';
import { findInGraph, NESTING_LIMIT, nestsDeeperThan, someInGraph } from '../../src/values/graph.js';
import { clonesAmiss } from '../../src/values/kinds.js';
import { isStackOverflow } from '../../src/serialize/remedies.js';

export const REFUSED = Symbol('the serializer refuses it');
/** The round trip ran out of this thread's stack. */
const OVERFLOWED = Symbol('the round trip overflowed this thread\'s stack');

/** The described value, refused, or the message a task that reads it throws. */
export type Expected = string | typeof REFUSED | { threw: string };

/**
 * An array too long for the text serializers, where `serializer` writes it: JSON and
 * serialize-javascript write every hole. Neither reads a symbol-keyed property, and JSON writes a
 * Map or a Set as {} without reading its contents: a huge array there is never written, so the
 * value travels as their round trip makes it (cases 336, 2881 and 2908 of seed 20261205).
 * devalue drops nothing (it refuses symbol keys), but reads a getter as its value.
 */
export function hasHugeArray(r: Recipe, serializer: 'json' | 'javascript' | 'devalue'): boolean {
  const json = serializer === 'json';
  const textual = json || serializer === 'javascript';
  const within = (x: Recipe): boolean => {
    switch (x[0]) {
      case 'sparse':
        return x[1] > 1e6 || x[2].some(([, v]) => within(v));
      case 'array':
        return x[1].some(within);
      case 'object':
        return x[1].some(([, v]) => within(v));
      case 'symbolKey':
        return !textual && within(x[2]);
      case 'map':
        return !json && x[1].some(([k, v]) => within(k) || within(v));
      case 'set':
        return !json && x[1].some(within);
      case 'mapCycle':
        // The value sits in the Map.
        return !json && within(x[1]);
      case 'deep':
        return !(json && x[2] === 'map' && x[1] > 0) && within(x[3]);
      case 'proxy':
      case 'cycle':
      case 'shared':
        return within(x[1]);
      default:
        return false;
    }
  };
  return within(r);
}

/** What the serializer's own round trip makes of `value` on this thread: its documented losses. */
export function expected(fuzzCase: FuzzCase, value: unknown): Expected | typeof OVERFLOWED {
  const { serializer, recipe, mode } = fuzzCase;
  try {
    // An argument larger than maxNbytes (1M) is shared for the run, by structured clone whatever the serializer, unless it holds functions, proxies, class instances or null-prototype objects, or nests deeper than a clone can recurse (README, Sharing large data).
    if (mode === 'argument' && typeof value === 'object' && value !== null && estimateBytes(value) > 1024 * 1024 && !someInGraph(value, (v) => typeof v === 'function' || clonesAmiss(v)) && !nestsDeeperThan(value, NESTING_LIMIT)) {
      return describe(structuredClone(value), { loose: serializer === 'auto' });
    }
    switch (serializer) {
      case 'structured':
        return describe(structuredClone(value));
      case 'json':
        if (hasHugeArray(recipe, serializer)) return REFUSED;
        return describe(JSON.parse(JSON.stringify(value) ?? 'null'));
      case 'devalue':
        // Too long to write here: described as devalue writes it, a getter read as its value and
        // no frozen flag (case 2468 of seed 20261207), which is what 'loose' describes.
        if (hasHugeArray(recipe, serializer)) return describe(value, { loose: true });
        return describe(devalue.parse(devalue.stringify(value)));
      case 'javascript':
        // serialize-javascript rebuilds a sparse array hole by hole: joblet refuses those longer than 2^24.
        if (hasHugeArray(recipe, serializer)) return REFUSED;
        // joblet refuses a cycle before serialize-javascript runs round it until the stack runs out
        // (through a Map: seconds here, half a minute on a worker's stack; case 537 of seed 20261207).
        if (findInGraph(value, (node) => node.cyclic || undefined)) return REFUSED;
        // joblet writes a task's arguments and a batch's results as arrays: a value travels inside one
        // (where a symbol becomes null, as JSON writes it, not undefined as it does alone).
        return describe((0, eval)(`(${serializeJavascript([value], { unsafe: true })}\n)`)[0]);
      case 'closure':
        return describe(value);
      case 'auto':
        // A captured value goes by the closure codec, which keeps a getter as a getter: describing it
        // in the worker calls the getter as describing it here does, so the task throws there too.
        if (mode === 'captured') {
          try {
            return describe(value, { loose: true });
          } catch (error) {
            return { threw: (error as Error)?.message ?? String(error) };
          }
        }
        return describe(value, { loose: true });
    }
  } catch (error) {
    return isStackOverflow(error) ? OVERFLOWED : REFUSED;
  }
}

/** The reference for a case: on this thread, or, when that ran out of stack, as a worker of the case's backend makes it. */
export async function expectedFor(fuzzCase: FuzzCase, value: unknown): Promise<Expected> {
  const want = expected(fuzzCase, value);
  if (want !== OVERFLOWED) return want;
  if (fuzzCase.backend !== 'threads') return REFUSED;
  const worker = new Worker(new URL('./referenceWorker.js', import.meta.url), { workerData: fuzzCase });
  try {
    const [answer] = (await new Promise<unknown[]>((resolve, reject) => {
      worker.once('message', (m) => resolve([m]));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the reference worker exited (code ${code}) without an answer`)));
    })) as [{ refused: true } | string | { threw: string }];
    return typeof answer === 'object' && 'refused' in answer ? REFUSED : answer;
  } finally {
    await worker.terminate();
  }
}
