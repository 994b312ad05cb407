import type { NodeRecord } from './graph.js';
import type { NodeEncoder, NodeKind } from './nodeKind.js';
import { boundNode, classRefNode, functionNode, moduleNode, scopeNode } from './nodes/functions.js';
import { intlNode } from './nodes/intl.js';
import { builtNode } from './nodes/packageBuilt.js';
import { objectNode } from './nodes/objects.js';
import { weakNode } from './nodes/weakCollections.js';
import { globalNode, referenceNode, symbolNode } from './nodes/references.js';

/**
 * The closure codec's table: every node kind by its tag, each with how it
 * is taken apart (reduce) and made again (make) side by side. A new kind
 * of node is one entry here and its record in graph.ts.
 */
export const NODE_KINDS: { [T in NodeRecord['t']]: NodeKind<Extract<NodeRecord, { t: T }>> } = {
  fn: functionNode,
  scope: scopeNode,
  classref: classRefNode,
  bound: boundNode,
  module: moduleNode,
  built: builtNode,
  global: globalNode,
  symbol: symbolNode,
  ref: referenceNode,
  intl: intlNode,
  weak: weakNode,
  object: objectNode,
};

/**
 * Which entry takes a value apart, first claim wins: a realm's own global before anything
 * (Math is an object, Math.max a function), a by-reference value before its class, an object
 * an installed package exports (by reference to it, a package's own WeakMap too), an object a
 * package's constructor builds from its definition (before it is taken for a class instance),
 * then weak collections, functions, Intl formatters (made by the receiver's own Intl), then
 * every other object.
 */
const ENCODING_ORDER = [globalNode, referenceNode, moduleNode, builtNode, weakNode, functionNode, intlNode, objectNode] as const;

/** The node for a value the encoder found special. */
export function reduceToNode(value: object, encoder: NodeEncoder, path: string): NodeRecord {
  for (const kind of ENCODING_ORDER) {
    if (kind.claims!(value)) return (kind.reduce as (value: object, encoder: NodeEncoder, path: string) => NodeRecord)(value, encoder, path);
  }
  throw new Error('joblet: no node kind claims this value');
}
