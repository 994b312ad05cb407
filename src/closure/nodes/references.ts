import vm from 'node:vm';
import { UnserializableValueError } from '../../serialize/types.js';
import { isWorkerGlobal } from '../../source/globals.js';
import { referenceKind, referenceKindOf } from '../../values/byReference.js';
import { RESOURCE_REMEDY } from '../../values/unsendable.js';
import { symbolOf, symbolRecord, type NodeRecord } from '../graph.js';
import type { NodeEncoder, NodeKind } from '../nodeKind.js';

/**
 * Values the receiver has its own of, or gets by reference: globals by
 * path, symbols by name, and by-reference values (persisted handles,
 * Counters...) through their kind's own encode and decode.
 */

// Global objects (Math, console, process, ...) travel by name; the worker has its own.
let globalObjects: Map<unknown, string> | undefined;
export function globalNameOf(value: unknown): string | undefined {
  if (!globalObjects) {
    globalObjects = new Map();
    for (const name of Object.getOwnPropertyNames(globalThis)) {
      if (!isWorkerGlobal(name) || name === 'globalThis' || name === 'global') continue;
      const candidate = (globalThis as Record<string, unknown>)[name];
      if (typeof candidate === 'object' && candidate !== null) globalObjects.set(candidate, name);
    }
    globalObjects.set(globalThis, 'globalThis');
  }
  return globalObjects.get(value);
}

/** A realm's own global (Math, console, process, a built-in function), never a copy. */
export const globalNode: NodeKind<{ t: 'global'; path: string }> = {
  claims: (value) => globalNameOf(value) !== undefined,
  reduce: (value: object): NodeRecord => ({ t: 'global', path: globalNameOf(value)! }),
  make: (record, decoder) => (decoder.context ? vm.runInContext(`globalThis.${record.path}`, decoder.context) : resolveGlobal(record.path)),
};

function resolveGlobal(path: string): unknown {
  let value: unknown = globalThis;
  for (const part of path.split('.')) value = (value as Record<string, unknown>)[part];
  if (value === undefined) throw new Error(`globalThis.${path} does not exist in this worker`);
  return value;
}

/** A symbol is no object: the encoder takes it apart here, not through the encoding order. */
export function reduceSymbol(symbol: symbol, _encoder: NodeEncoder, path: string): NodeRecord {
  const record = symbolRecord(symbol);
  if (!record) throw new UnserializableValueError('a unique Symbol cannot be sent (only Symbol.for(...) and well-known symbols exist in every worker)', path, 'Use Symbol.for(key), or a string.');
  return 'r' in record ? { t: 'symbol', registered: record.r } : { t: 'symbol', wellKnown: record.w };
}

export const symbolNode: NodeKind<{ t: 'symbol'; registered?: string; wellKnown?: string }> = {
  reduce: reduceSymbol as NodeKind<NodeRecord>['reduce'],
  make: (record) => symbolOf(record.registered !== undefined ? { r: record.registered } : { w: record.wellKnown! }),
};

/** A by-reference value: its kind says what of it travels, and how it is made again. */
export const referenceNode: NodeKind<{ t: 'ref'; kind: string; state: unknown }> = {
  claims: (value) => referenceKindOf(value) !== undefined,
  reduce(value: object, encoder: NodeEncoder, path: string): NodeRecord {
    const kind = referenceKindOf(value)!;
    const { inGraph } = kind;
    if ('refuse' in inGraph) throw new UnserializableValueError(inGraph.refuse, path, RESOURCE_REMEDY);
    if (!('encode' in inGraph)) throw new Error(`joblet: by-reference kind '${kind.name}' is encoded inline, not as a node`);
    return { t: 'ref', kind: kind.name, state: inGraph.encode(value, (companion) => encoder.companion(companion)) };
  },
  make(record) {
    const { inGraph } = referenceKind(record.kind);
    if (!('decode' in inGraph)) throw new Error(`joblet: by-reference kind '${record.kind}' has no node to decode`);
    return inGraph.decode(record.state);
  },
};
