import { getHeapStatistics } from 'node:v8';
import { handleOf, onEvent, post, release } from './inspector.js';

/**
 * Which functions close over the same scope (V8 context). The inspector's [[Scopes]] are
 * fresh copies on every read, so equal values there prove nothing; the one exact witness V8
 * gives is a heap snapshot, where every closure has a `context` edge to the context it holds.
 * A snapshot walks the whole heap (about 300 ms for a 20 MB heap on a busy machine, 1.8 s for
 * 90 MB), so the caller asks only when it must, and it is not taken above HEAP_LIMIT.
 */

/**
 * Above this much used heap a snapshot would take about a second or more, so the caller refuses
 * instead. Measured on a busy 2-core machine: 0.3-1.3 s for 7-20 MB, 1.8 s for 90 MB, and 15-20 s
 * in the conformance suite's process (lodash, zod, mathjs loaded).
 */
export const HEAP_LIMIT = 32 * 1024 * 1024;

/** True when a snapshot fits the budget. */
export const snapshotAffordable = (): boolean => getHeapStatistics().used_heap_size <= HEAP_LIMIT;

let listening = false;
let chunks: string[] | undefined;

/** For each function, an id of the context it closes over (equal ids: one shared scope), or undefined if unknown. */
export function contextsOf(fns: Function[]): (number | undefined)[] {
  if (!listening) onEvent('HeapProfiler.addHeapSnapshotChunk', (params) => chunks?.push((params as { chunk: string }).chunk));
  listening = true;
  chunks = [];
  post('HeapProfiler.enable');
  try {
    // The chunks arrive synchronously, during the call (an in-thread session answers at once).
    post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    const ids = fns.map((fn) => Number(post<{ heapSnapshotObjectId: string }>('HeapProfiler.getHeapObjectId', { objectId: handleOf(fn) }).heapSnapshotObjectId));
    return contextEdges(JSON.parse(chunks.join('')) as HeapSnapshot, ids);
  } finally {
    chunks = undefined;
    release();
    // Disabling drops the snapshot and the object-id map, which would otherwise slow every GC.
    post('HeapProfiler.disable');
  }
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** The heap id of the node each function's `context` edge points to. */
function contextEdges(snapshot: HeapSnapshot, ids: number[]): (number | undefined)[] {
  const { node_fields: nodeFields, edge_fields: edgeFields, edge_types: edgeTypes } = snapshot.snapshot.meta;
  const typeAt = edgeFields.indexOf('type');
  // A closure's context is an internal edge named `context` (element edges carry numbers instead of names).
  const internal = edgeTypes[0].indexOf('internal');
  const idAt = nodeFields.indexOf('id');
  const edgeCountAt = nodeFields.indexOf('edge_count');
  const nameAt = edgeFields.indexOf('name_or_index');
  const toAt = edgeFields.indexOf('to_node');
  const wanted = new Set(ids);
  const contexts = new Map<number, number>();
  const { nodes, edges, strings } = snapshot;
  for (let node = 0, edge = 0; node < nodes.length; node += nodeFields.length) {
    const count = nodes[node + edgeCountAt]!;
    if (wanted.has(nodes[node + idAt]!)) {
      for (let k = 0; k < count; k++) {
        const at = (edge + k) * edgeFields.length;
        if (edges[at + typeAt] === internal && strings[edges[at + nameAt]!] === 'context') contexts.set(nodes[node + idAt]!, nodes[edges[at + toAt]! + idAt]!);
      }
    }
    edge += count;
  }
  return ids.map((id) => contexts.get(id));
}
