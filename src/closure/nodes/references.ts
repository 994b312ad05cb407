import vm from 'node:vm';
import { UnserializableValueError } from '../../serialize/types.js';
import { intrinsicPath, resolveIntrinsic } from '../../source/intrinsics.js';
import { referenceKind, referenceKindOf } from '../../values/byReference.js';
import { RESOURCE_REMEDY } from '../../values/unsendable.js';
import { symbolOf, symbolRecord, type NodeRecord, type SymbolRecord } from '../graph.js';
import { symbolIdOf, symbolById } from '../classRegistry.js';
import type { NodeEncoder, NodeKind } from '../nodeKind.js';

/**
 * Values the receiver has its own of, or gets by reference: globals by
 * path, symbols by name, and by-reference values (persisted handles,
 * Counters...) through their kind's own encode and decode.
 */

/**
 * A realm's own object (Math, console, Object.prototype, Intl.NumberFormat.prototype) travels by
 * its path; the receiver has its own. Built-in functions take the same path through their capture.
 */
export function globalNameOf(value: unknown): string | undefined {
  if (value === globalThis) return 'globalThis';
  return typeof value === 'object' && value !== null ? intrinsicPath(value) : undefined;
}

/** A realm's own global (Math, console, process, a built-in function), never a copy. */
export const globalNode: NodeKind<{ t: 'global'; path: string }> = {
  claims: (value) => globalNameOf(value) !== undefined,
  reduce: (value: object): NodeRecord => ({ t: 'global', path: globalNameOf(value)! }),
  make: (record, decoder) => {
    const root = decoder.context ? (vm.runInContext('globalThis', decoder.context) as object) : globalThis;
    return record.path === 'globalThis' ? root : resolveIntrinsic(record.path, root);
  },
};

/**
 * A symbol is no object: the encoder takes it apart here, not through the encoding order. A
 * unique one travels by identity (classRegistry.ts): the receiver makes one symbol per id.
 */
export function reduceSymbol(symbol: symbol): SymbolRecord {
  const record = symbolRecord(symbol);
  if (!record) return { t: 'symbol', unique: { id: symbolIdOf(symbol), description: symbol.description } };
  return 'r' in record ? { t: 'symbol', registered: record.r } : { t: 'symbol', wellKnown: record.w };
}

export const symbolNode: NodeKind<SymbolRecord> = {
  reduce: reduceSymbol as NodeKind<NodeRecord>['reduce'],
  make: (record) =>
    record.unique ? symbolById(record.unique.id, record.unique.description) : symbolOf(record.registered !== undefined ? { r: record.registered } : { w: record.wellKnown! }),
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
    if (!('decode' in inGraph) || !inGraph.decode) throw new Error(`joblet: by-reference kind '${record.kind}' has no node to decode`);
    return inGraph.decode(record.state);
  },
};
