import type { EncodeSession } from './session.js';

/**
 * The by-reference protocol. Some values travel as a def, sent to each
 * worker once and named by id, rather than inside the payload: a persisted
 * handle, a shared array (or an argument large enough to share), a Counter,
 * a value wrapped with wrapNonSerializable. Each such kind is one object in
 * its own file that says how it is sent, rebuilt on the other side, met
 * inside a graph the closure codec encodes, and released. The task
 * encoder, the closure codec, the task runner and the pool ask this
 * registry; none of them names a kind. Adding a kind: one file that
 * implements ReferenceKind, and one line in sharing/kinds.ts.
 */

/** What the sender knows when it turns a value into a def. */
export interface SendContext {
  /** The receiving workers see this thread's SharedArrayBuffers (threads, inline). */
  sharedMemory: boolean;
  /** The tasks run in this very thread (inline). */
  sameThread: boolean;
  /** The workers may be on another machine (bullmq): no shared memory, no shared files; the state carries the value itself. */
  remote?: boolean;
  /** Where the value sits, for errors: `args[1].model`. */
  path: string;
  /** The task it belongs to; undefined for the run's initializer. */
  taskIndex: number | undefined;
  /** The run's serializer, for errors. */
  serializer: string;
  /** The run's encode session: a kind that encodes with a serializer hands it on (one capture per function per run). */
  session: EncodeSession;
  /**
   * A large binary argument (a typed array, DataView or ArrayBuffer), or a large list of numbers,
   * as a def kept across the runs of its Parallel: copied once, reused while its bytes (numbers)
   * are unchanged (sharing/sharedCopies.ts); undefined for a list with an element not a number.
   * Absent when the tasks run in this very thread.
   */
  keep?: ((value: ArrayBufferView | ArrayBuffer | readonly unknown[]) => Sent | undefined) | undefined;
}

/** A value as a def: its id in every worker that holds it, and what the receiver rebuilds it from. */
export interface Sent<State = unknown> {
  id: string;
  state: State;
  /** The workers may drop it when the run ends (else it lives until the value itself is released). */
  runScoped: boolean;
}

/** How a kind travels inside a graph the closure codec encodes (a capture, a result). */
export type InGraph<V, State> =
  /**
   * It cannot: why, and what to do (shared memory captured by a function, say). `decode`: the
   * node a run's encoder put in a value's place all the same (EncodeSession.keepLarge).
   */
  | { refuse: string; decode?(state: State): unknown }
  /** Encoded in its place as another value (a wrapped value: the value it wraps). */
  | { inline(value: V): unknown }
  /** As a node holding `state`; `companion` asks for a value to travel as a def beside the graph. */
  | { encode(value: V, companion: (value: object) => void): State; decode(state: State): unknown };

export interface ReferenceKind<V extends object = object, State = unknown> {
  /** Names the kind on the wire: the receiver finds the kind by it. */
  readonly name: string;
  /** True for a value of this kind. Asked for every object of a payload that may hold one: keep it cheap. */
  matches(value: object): value is V;
  /**
   * The sending side: the value as a def. Throws a ReferenceRefusal (problem and remedy) when
   * the value cannot be sent; the encoder adds the task, the path and the serializer.
   */
  send(value: V, context: SendContext): Sent<State>;
  /** The receiving side: the value for `state`, built once per worker and cached by id. */
  rebuild(state: State, id: string): unknown;
  /** Serializers the receiver must have loaded before `rebuild`. */
  serializers?(state: State): string[];
  /**
   * Rebuilt from `state` for each run instead of once per worker: a task may write into what it
   * got, and a def kept across runs must not carry those writes into the next run.
   */
  rebuildEachRun?(state: State): boolean;
  /** With rebuildEachRun: the value built for an earlier run may serve this one as it is (no task wrote into it). */
  unwritten?(state: State, built: unknown): boolean;
  /**
   * Told as soon as the def arrives, before any task: a closure rebuilt later finds the value by
   * id. Not a rebuild: a def rebuilt for each run would be built twice in its first run.
   */
  arrived?(state: State, id: string): void;
  /** A graph node's state is the kind's own business: its encode and decode agree on it. */
  readonly inGraph: InGraph<V, any>;
  /** The main side of a message a worker's copy sent (a Counter's increment from a child process). */
  receive?(body: unknown): void;
  /** The receiving side dropped a def of this kind (the run that used it ended): free what it held. */
  forgotten?(state: State): void;
  /** This kind carries the large arguments a run shares automatically (maxNbytes). One kind says so. */
  readonly sharesLargeValues?: boolean;
}

/** Why a by-reference value cannot be sent, and what to do. */
export class ReferenceRefusal extends Error {
  constructor(
    readonly problem: string,
    readonly remedy: string,
  ) {
    super(problem);
    this.name = 'ReferenceRefusal';
  }
}

const kinds: ReferenceKind[] = [];
const byName = new Map<string, ReferenceKind>();
let inUse = false;
/**
 * Registers the built-in kinds the first time anything asks for a kind, in a realm that did not
 * load them up front: a worker, which starts sooner without them and needs them only for a
 * by-reference def or the closure codec (runtime/onDemand.ts). Unset where they load at import
 * (the main thread).
 */
let loadKinds: (() => void) | undefined;

/** Have `load` register the kinds when one is first asked for (once), unless some are registered already. */
export function registerKindsOnDemand(load: () => void): void {
  if (!kinds.length) loadKinds = load;
}

function kindsLoaded(): void {
  const load = loadKinds;
  loadKinds = undefined;
  load?.();
}

/** Add a kind (idempotent): sharing/kinds.ts registers the built-in ones in every realm. */
export function registerReferenceKind<V extends object, S>(kind: ReferenceKind<V, S>): void {
  if (byName.has(kind.name)) return;
  kinds.push(kind as unknown as ReferenceKind);
  byName.set(kind.name, kind as unknown as ReferenceKind);
}

/** The kind a value is of, if any. */
export function referenceKindOf(value: unknown): ReferenceKind | undefined {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  if (loadKinds) kindsLoaded();
  for (const kind of kinds) if (kind.matches(value)) return kind;
  return undefined;
}

/** The kind named on the wire; throws when this realm does not have it. */
export function referenceKind(name: string): ReferenceKind {
  if (loadKinds) kindsLoaded();
  const kind = byName.get(name);
  if (!kind) throw new Error(`joblet: no by-reference kind '${name}' is registered in this realm`);
  return kind;
}

/** Every kind registered in this realm (a remote worker relays the messages of those that `receive`). */
export function referenceKinds(): readonly ReferenceKind[] {
  if (loadKinds) kindsLoaded();
  return kinds;
}

/** The kind that carries the large arguments a run shares for its length. */
export function largeValueKind(): ReferenceKind | undefined {
  if (loadKinds) kindsLoaded();
  return kinds.find((kind) => kind.sharesLargeValues);
}

/** A kind's maker calls this when the user makes such a value: until then, payloads need no scan for references. */
export function noteReferenceInUse(): void {
  inUse = true;
}

/** False until a by-reference value was made in this process (the common case of plain tasks). */
export function anyReferenceInUse(): boolean {
  return inUse;
}
