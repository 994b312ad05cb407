import type vm from 'node:vm';
import { KEEP, replaceInPlace } from '../values/substitute.js';
import type { Graph, NodeRecord } from './graph.js';
import type { NodeDecoder, NodeKind } from './nodeKind.js';
import { NODE_KINDS } from './nodeKinds.js';

/** Where functions are compiled: this realm, or a vm context (tests use a fresh one). */
export interface DecodeOptions {
  context?: vm.Context;
}

/** Rebuild a graph made by encodeGraph. */
export function decodeGraph(graph: Graph, options: DecodeOptions = {}): unknown {
  // No node, no marker: nothing to rebuild, nothing to walk.
  if (graph.nodes.length === 0) return graph.root;
  const decoder = new GraphDecoder(graph, options.context);
  const root = decoder.value(graph.root, () => undefined);
  decoder.buildWeakCollections();
  decoder.finish();
  return root;
}

const NOT_STARTED = 0;
const BEING_BUILT = 1;
const DONE = 2;
/** Made but still being filled in: references get it, whenBuilt waits for DONE. */
const AVAILABLE = 3;

/**
 * Rebuilding creates each node once, on first reference. A reference to a
 * node still being built (a cycle through a function or an instance) is
 * answered later: the caller's `assign` receives the value when its node is
 * done.
 */
class GraphDecoder implements NodeDecoder {
  private readonly builtValues: unknown[];
  private readonly state: Uint8Array;
  private readonly waiting = new Map<number, (() => void)[]>();
  /** Data containers already walked: shared by every part of the graph, so none is walked twice. */
  private readonly entered = new Set<object>();
  /** Work for when the whole graph is built (freezing an object a late assignment may still fill). */
  private readonly last: (() => void)[] = [];

  atEnd(then: () => void): void {
    this.last.push(then);
  }

  finish(): void {
    for (const then of this.last) then();
  }

  constructor(
    private readonly graph: Graph,
    readonly context: vm.Context | undefined,
  ) {
    this.builtValues = new Array(graph.nodes.length);
    this.state = new Uint8Array(graph.nodes.length);
  }

  markerOf(encoded: unknown): number | undefined {
    if (typeof encoded !== 'object' || encoded === null) return undefined;
    const at = (encoded as Record<string, unknown>)[this.graph.mark];
    return typeof at === 'number' && Object.keys(encoded).length === 1 ? at : undefined;
  }

  isBeingBuilt(at: number): boolean {
    return this.state[at] === BEING_BUILT;
  }

  provide(at: number, value: unknown): void {
    if (this.state[at] !== BEING_BUILT) return;
    this.builtValues[at] = value;
    this.state[at] = AVAILABLE;
  }

  recordAt(at: number): NodeRecord {
    return this.graph.nodes[at]!;
  }

  built(at: number): unknown {
    return this.builtValues[at];
  }

  whenBuilt(at: number, then: () => void): void {
    if (this.state[at] === DONE) then();
    else this.waiting.set(at, [...(this.waiting.get(at) ?? []), then]);
  }

  value(encoded: unknown, assign: (late: unknown) => void): unknown {
    return replaceInPlace(encoded, (node, later) => {
      const at = this.markerOf(node);
      if (at === undefined) return KEEP;
      if (this.state[at] === BEING_BUILT) {
        this.whenBuilt(at, () => (node === encoded ? assign : later)(this.builtValues[at]));
        return undefined;
      }
      return this.node(at);
    }, this.entered);
  }

  /**
   * Weak collections are built even when nothing here refers to them: a class this realm
   * already has (rebuilt from an earlier payload) keeps its own collection (its downlevelled
   * #private state), and the entries of this payload's instances must join it.
   */
  buildWeakCollections(): void {
    this.graph.nodes.forEach((record, at) => {
      if (record.t === 'weak') this.node(at);
    });
  }

  private node(at: number): unknown {
    if (this.state[at] !== NOT_STARTED) return this.builtValues[at];
    this.state[at] = BEING_BUILT;
    const record = this.graph.nodes[at]!;
    const kind = NODE_KINDS[record.t] as NodeKind<NodeRecord>;
    this.builtValues[at] = kind.make(record, this, at);
    this.state[at] = DONE;
    const then = this.waiting.get(at);
    this.waiting.delete(at);
    for (const callback of then ?? []) callback();
    return this.builtValues[at];
  }
}
