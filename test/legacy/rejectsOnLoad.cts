// Compiled by tsc to CommonJS: addBase reads `exports.base`, so it travels as a reference to this
// module, which a worker loads (require) when it builds the function. Loaded there, the module
// leaves a rejected promise no one handles: that is the first task's, as if its call had made it.
import { isMainThread } from 'node:worker_threads';
export const base = 1;
if (!isMainThread || /processWorker\.js$/.test(process.argv[1] ?? '')) void Promise.reject(new Error('rejectsOnLoad: loaded in a worker'));
export function addBase(x: number): number {
  return x + base;
}
