/**
 * What a worker loads when a batch first needs it rather than before it says 'ready'. A worker
 * pays about 0.7 ms per module it loads (opening and compiling each file), and a pool's first run
 * waits for its workers (bench/workerStart.ts); most batches hold plain functions and plain data.
 * Imported first by the worker entries (threadWorker.ts, processWorker.ts), never by the main thread.
 *
 * - The by-reference kinds (sharing/kinds.ts, with temporary files and shared copies behind them)
 *   are registered the first time anything asks for a kind: a 'ref' def, or the closure codec
 *   meeting a value (values/byReference.ts).
 * - The closure codec is loaded by the 'auto' serializer on the first payload that needs it
 *   (serialize/builtins/auto.ts), and closure/modules.ts by the task runner on the first snapshot
 *   that names ES modules.
 * - serialize/payload.ts (with the remedies, the function describer and node:crypto) is loaded by
 *   the task runner on the first batch with packed arguments, references, or a result the
 *   transport cannot carry as it is; the class registry takes node:crypto when it mints an id.
 *
 * They are loaded with require(), synchronously (decoding and encoding are synchronous):
 * Node 20.19+ gives require() of an ES module the same instance import() gives (values/loadNow.ts;
 * where require() of ES modules is turned off, they are imported before the first batch runs).
 * require() cannot load a module that an import() still in flight is loading; the worker's own
 * imports (serializer modules, the modules a snapshot names) are awaited before a batch decodes
 * anything, and batches run one at a time, so none is in flight when these load.
 */
import { registerKindsOnDemand } from '../values/byReference.js';
import { importAhead, importInBackground, loadNow } from '../values/loadNow.js';

const KINDS = new URL('../sharing/kinds.js', import.meta.url);

registerKindsOnDemand(() => loadNow(KINDS));

// Where require() cannot load ES modules, they are imported before the first batch runs (the codec by 'auto').
importAhead([KINDS, new URL('../serialize/payload.js', import.meta.url)]);

/**
 * Once the worker said 'ready', what nearly every first batch needs is imported while it waits:
 * the 'auto' and 'closure' serializers (a task function arrives as a closure snapshot) and the
 * payload helpers. A first batch measured 55-65 ms loading them on the spot; 'ready' itself stays
 * as early as before. A batch that comes meanwhile waits for these imports (aheadLoading).
 */
export function loadAfterReady(): void {
  importInBackground(['../serialize/builtins/auto.js', '../serialize/builtins/closure.js', '../serialize/payload.js'].map((path) => new URL(path, import.meta.url)));
}
