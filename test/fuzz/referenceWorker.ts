/**
 * A worker thread that makes the fuzzer's reference for one case (workerData) with a worker's
 * stack: reference.ts asks it when the round trip ran out of the main thread's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { build, type FuzzCase } from './recipes.js';
import { expected, REFUSED } from './reference.js';

const fuzzCase = workerData as FuzzCase;
const want = expected(fuzzCase, build(fuzzCase.recipe));
parentPort!.postMessage(typeof want === 'symbol' ? { refused: true } : want);
