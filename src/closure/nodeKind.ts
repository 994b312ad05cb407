import type vm from 'node:vm';
import type { Capture } from './capture.js';
import type { NodeRecord, WeakRecord } from './graph.js';

/**
 * One entry of the codec's table (nodeKinds.ts): how a kind of value is
 * taken apart into a node record, and how it is made again from one
 * (cloudpickle's `_X_reduce` / `_make_X` pairs). The encoder and decoder
 * give an entry these views of themselves, nothing more.
 */
export interface NodeKind<R extends NodeRecord> {
  /** True for a value this entry takes apart (asked in the table's encoding order). */
  claims?(value: object): boolean;
  /** The node for `value` (absent for records another entry's reduce produces, such as a bound function's). */
  reduce?(value: never, encoder: NodeEncoder, path: string): NodeRecord;
  /** The value for `record`; `at` is its place in the table (for work deferred until it is built). */
  make(record: R, decoder: NodeDecoder, at: number): unknown;
}

export interface NodeEncoder {
  readonly options: { accessors: boolean };
  /** One per run: every payload of a run shares its classes' snapshots. */
  readonly epoch: string;
  /** A value inside the node, with its special parts turned into markers; `path` for errors. */
  transform(value: unknown, path: string): unknown;
  /** The marker of `key`'s node, made once. */
  marker(key: unknown, make: () => NodeRecord): unknown;
  /** The run's capture of a function, taken once. */
  capture(fn: Function): Capture;
  /** A by-reference value that must travel as a def beside the graph. */
  companion(value: object): void;
  /**
   * A WeakMap or WeakSet's node: the encoder adds to `record` the entries whose keys the graph
   * carries, once the rest of it is walked (an entry's value may make more keys travel).
   */
  weakEntries(collection: WeakMap<object, unknown> | WeakSet<object>, record: WeakRecord, path: string): void;
  /** `value` as a node of its own even when it looks like data (a prototype), its identity kept. */
  node(value: object, path: string): unknown;
  /** The record a marker (a value `transform` returned) names, if it is one. */
  recordOf(encoded: unknown): NodeRecord | undefined;
  /** `fn`, of installed package `name`, is about to be copied (no export reaches it): throws past the budget, before its capture. */
  copyFromPackage(fn: Function, name: string, path: string): void;
  /** A package function that travels by reference was met (counted when a copied package function holds it). */
  packageReference(path: string): void;
  /** `run` walks what a copied package function holds (what it reaches counts against the package budget). */
  withinPackageCopy<T>(run: () => T): T;
  /** Count the functions among a node's members (value, path) that would be copied from packages, before any is walked. */
  countPackageCopies(members: Iterable<readonly [unknown, string]>): void;
}

export interface NodeDecoder {
  /** Where functions are compiled: this realm, or a vm context. */
  readonly context: vm.Context | undefined;
  /** The value for `encoded`; when it is a node still being built, `assign` receives it later. */
  value(encoded: unknown, assign: (late: unknown) => void): unknown;
  /** Run `then` once node `at` is built (now, if it is). */
  whenBuilt(at: number, then: () => void): void;
  /** The node index a marker names, if `encoded` is a marker. */
  markerOf(encoded: unknown): number | undefined;
  /** Node `at` is being built (a reference to it is a cycle). */
  isBeingBuilt(at: number): boolean;
  /**
   * Node `at` exists already, though it is still being filled in: from now on a reference to
   * it (a cycle: a method bound to its instance, a static holding a subclass) gets it at once.
   */
  provide(at: number, value: unknown): void;
  /** The record of node `at`. */
  recordAt(at: number): NodeRecord;
  /** The value node `at` was built into. */
  built(at: number): unknown;
  /** Run `then` once the whole graph is built: the last word on a node (freezing it). */
  atEnd(then: () => void): void;
}
