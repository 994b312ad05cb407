import { randomUUID } from 'node:crypto';
import { UnserializableValueError } from '../serialize/types.js';
import { referenceKindOf } from '../values/byReference.js';
import { someInGraph } from '../values/graph.js';
import { hasAccessor, isClassInstance } from '../values/kinds.js';
import { EncodeSession } from '../values/session.js';
import { substitute } from '../values/substitute.js';
import { RESOURCE_REMEDY, unsendableReason } from '../values/unsendable.js';
import { captureFunction, type Capture } from './capture.js';
import { MARK, pathThrough, type Graph, type NodeRecord, type WeakRecord } from './graph.js';
import { release } from './inspector.js';
import { reduceToNode } from './nodeKinds.js';
import { esModuleSpecifiers, indexedBuiltinValues } from './modules.js';
import { refuseSharedAcrossPayloads, shareScopes, type ScopeMember } from './sharedScopes.js';
import { moduleNode } from './nodes/functions.js';
import { indexedPackageValues, packageHoldingState, packageRemedy, packageRoute } from './packages.js';
import { intrinsicValues } from '../source/intrinsics.js';
import { weakNode } from './nodes/weakCollections.js';

// The built-ins' own methods: a collection's entries are asked by identity, whatever its class says.
const weakMapHas = WeakMap.prototype.has;
const weakMapGet = WeakMap.prototype.get;
const weakSetHas = WeakSet.prototype.has;

/** Refuse an object a package keeps state about in a weak collection: the copy would arrive without it. */
function refuseHeldByPackage(value: object, path: string): void {
  const name = packageHoldingState(value);
  if (name === undefined) return;
  throw new UnserializableValueError(
    `it is an object the package \`${name}\` keeps state about in a WeakMap or WeakSet of its own (zod's registry of descriptions, say), which a copy would arrive without`,
    path,
    packageRemedy(name),
  );
}
import { globalNameOf, reduceSymbol } from './nodes/references.js';

export interface EncodeOptions {
  /** Also turn plain objects with getters or setters into nodes (the closure serializer does; auto does not look). */
  accessors: boolean;
}

/**
 * What the closure codec keeps per session: one capture per function, one epoch for its classes'
 * snapshots, and the ES module files the last encoding referred to (a worker imports them first).
 */
interface ClosureState {
  captures: Map<Function, Capture>;
  epoch: string;
  esModules: string[];
  /** The weak collections this run sent: a later payload (the arguments) adds the entries of the keys it carries. */
  weak: Set<WeakMap<object, unknown> | WeakSet<object>>;
  /** The functions with captured bindings of the run's task-function payloads: the arguments may not share a written one. */
  defScopes: ScopeMember[];
  /** The same for the run's initializer payload: neither the task functions nor the arguments may share a written one with it. */
  initScopes: ScopeMember[];
  /** The payload being encoded is the initializer's (encodingInitializer). */
  initializer: boolean;
}
const CLOSURE_STATE = Symbol('joblet.closure');
const closureState = (session: EncodeSession) => session.cache<ClosureState>(CLOSURE_STATE, () => ({ captures: new Map(), epoch: randomUUID(), esModules: [], weak: new Set(), defScopes: [], initScopes: [], initializer: false }));

/**
 * `encode` the run's initializer: its payload is checked against the task functions' and theirs
 * against it. It runs before them in the worker, so a binding it assigns and a task reads (`let db;
 * initializer: () => { db = connect() }`) would be two copies there: the task reads the unassigned one.
 */
export function encodingInitializer<T>(session: EncodeSession, encode: () => T): T {
  const state = closureState(session);
  state.initializer = true;
  try {
    return encode();
  } finally {
    state.initializer = false;
  }
}

/**
 * The ES module files the session's last encoding refers to by reference: a worker imports them
 * before decoding it, since require() cannot load a module with top-level await.
 */
export function sessionEsModules(session: EncodeSession): readonly string[] {
  return closureState(session).esModules;
}

/** `key` is in `collection`, asked by identity, whatever the collection's class says. */
function weakHas(collection: WeakMap<object, unknown> | WeakSet<object>, key: unknown): boolean {
  return (collection instanceof WeakMap ? weakMapHas : weakSetHas).call(collection as never, key as object);
}

/**
 * `value` holds a key of a weak collection an earlier payload of the run sent (an argument that
 * a captured WeakSet brands): it must take the closure codec, so that the entry joins the
 * collection in the worker, even when it is plain data a transport would clone as it is.
 */
export function holdsWeakKeys(session: EncodeSession, value: unknown): boolean {
  // Asked of every batch: a run that encoded no closure has no state to make (its epoch is a UUID).
  const sent = session.cached<ClosureState>(CLOSURE_STATE)?.weak;
  if (!sent?.size) return false;
  return someInGraph(value, (node) => {
    for (const collection of sent) if (weakHas(collection, node)) return true;
    return false;
  });
}

/**
 * How many functions of installed packages (all of them together) a payload may copy, when no
 * export reaches them, before it is refused: a library instance (mathjs's create(all)) holds
 * thousands, spread over several packages (mathjs, typed-function, decimal.js), and copying them
 * would take seconds for something that is better made in the worker. Counted before each
 * function is captured, so the refusal costs at most this many captures. A zod schema with a
 * transform copies 22, lodash's curried function 5.
 */
const PACKAGE_COPY_BUDGET = 40;

/**
 * How many package functions, copied or by reference, what a copied package function holds may
 * reach before it is refused as a library instance: each costs inspector round trips to place,
 * and mathjs's instance reaches about 400 factories by reference before its 41st copy, where
 * the package state the conformance suite carries reaches at most 8.
 */
const PACKAGE_REACH_BUDGET = 100;

/** The capture the session took of `fn`, if it took one (the task encoder keeps pure functions' defs for good). */
export function sessionCapture(session: EncodeSession, fn: Function): Capture | undefined {
  return closureState(session).captures.get(fn);
}

/**
 * Encode a value graph; throws UnserializableValueError with a path through captures.
 * `session`: the run this encoding belongs to (one capture per function for the whole run);
 * without one, the encoding is a session of its own.
 */
export function encodeGraph(value: unknown, options: EncodeOptions = { accessors: true }, session = new EncodeSession()): Graph {
  return new GraphEncoder(options, session).encode(value);
}

/** The graph encoder: walks a value, turning what structured clone cannot carry into nodes of NODE_KINDS. */
export class GraphEncoder {
  private readonly nodes: NodeRecord[] = [];
  private readonly index = new Map<unknown, number>();
  /** What each data container became, across every transform: a container met twice is one copy. */
  private readonly copies = new Map<object, unknown>();
  private readonly captures: Map<Function, Capture>;
  /** Functions of installed packages copied so far, per package, and the first one met (a refusal names it). */
  private readonly packageCopies: { count: number; reached: number; byPackage: Map<string, number>; first?: { name: string; path: string } } = {
    count: 0,
    reached: 0,
    byPackage: new Map(),
  };
  /** How many copied package functions the walk is inside. */
  private packageCopyDepth = 0;
  /** The package functions counted against the budget (each once, however often it is met). */
  private readonly counted = new WeakSet<Function>();
  /** One epoch per session (per run): every payload of a run shares its classes' snapshots. */
  readonly epoch: string;

  constructor(
    readonly options: EncodeOptions,
    private readonly session: EncodeSession,
  ) {
    ({ captures: this.captures, epoch: this.epoch } = closureState(session));
  }

  encode(value: unknown): Graph {
    const state = closureState(this.session);
    state.esModules = [];
    // Pure data (the common payload) is sent as it is: one scan, no copy, no markers.
    if (typeof value !== 'symbol' && !someInGraph(value, this.isSpecial) && !holdsWeakKeys(this.session, value)) return { mark: MARK, root: value, nodes: [] };
    let root: unknown;
    try {
      root = this.transform(value, '');
      this.fillWeakCollections();
      this.shareScopes(typeof value === 'function');
    } finally {
      // Handles the walk read to place package functions that needed no capture.
      release();
    }
    state.esModules = esModuleSpecifiers(this.nodes.flatMap((node) => (node.t === 'module' ? [node.specifier] : [])));
    return { mark: MARK, root, nodes: this.nodes };
  }

  /** Where each function was first met, for a refusal of the scope it shares. */
  private readonly functionPaths = new Map<Function, string>();

  /**
   * Functions of this graph that close over one binding one of them assigns are compiled in one
   * scope. A payload whose root is a function is a task function's (the def); any other (the
   * arguments) may not share such a binding with one.
   */
  private shareScopes(isDef: boolean): void {
    const members: ScopeMember[] = [];
    for (const [value, at] of this.index) {
      const record = this.nodes[at];
      if (typeof value !== 'function' || record?.t !== 'fn') continue;
      const capture = this.captures.get(value);
      if (capture?.kind === 'source' && capture.sites.size) members.push({ fn: value, record, capture, path: this.functionPaths.get(value) ?? '' });
    }
    const state = closureState(this.session);
    if (isDef && state.initializer) {
      refuseSharedAcrossPayloads(members, state.defScopes, 'initializer');
      state.initScopes.push(...members);
    } else if (isDef) {
      refuseSharedAcrossPayloads(members, state.initScopes, 'task');
      state.defScopes.push(...members);
    } else {
      refuseSharedAcrossPayloads(members, state.defScopes);
      refuseSharedAcrossPayloads(members, state.initScopes, 'arguments');
    }
    if (members.length < 2) return;
    shareScopes(members, (record) => this.marker({}, () => record));
  }

  /** WeakMaps and WeakSets met so far: their records, and how many of `travelling` each was asked about. */
  private readonly weak: { collection: WeakMap<object, unknown> | WeakSet<object>; record: WeakRecord; path: string; asked: number }[] = [];

  weakEntries(collection: WeakMap<object, unknown> | WeakSet<object>, record: WeakRecord, path: string): void {
    this.weak.push({ collection, record, path, asked: 0 });
    closureState(this.session).weak.add(collection);
  }

  /**
   * The entries of each weak collection whose key travels: every object, function or symbol
   * this graph carries (a node, or a data container or leaf copied), and every value the
   * receiver has its own of (a built-in, an export of a builtin module or of an installed
   * package indexed so far; one not indexed yet is the limit README's Closures names). Each is asked of the collection (`has`, by identity), so the cost
   * is the graph's size, not the collection's: a cache of 100,000 entries whose keys stay
   * behind costs nothing, and no entry whose key stays behind is read. An entry's value may
   * make more keys travel, so this repeats until nothing is added.
   */
  private fillWeakCollections(): void {
    if (!closureState(this.session).weak.size) return;
    const travelling: unknown[] = [];
    const known = new Set<unknown>();
    const note = (key: unknown) => {
      if (!known.has(key) && ((typeof key === 'object' && key !== null) || typeof key === 'function' || typeof key === 'symbol')) {
        known.add(key);
        travelling.push(key);
      }
    };
    // The receiver's own values travel by reference whether or not this graph reached them.
    for (const values of [intrinsicValues(), indexedBuiltinValues(), indexedPackageValues()]) for (const value of values) note(value);
    for (let added = true; added; ) {
      added = false;
      for (const key of this.index.keys()) note(key);
      for (const key of this.copies.keys()) note(key);
      // A collection an earlier payload of the run sent, holding a key this one carries: its node
      // (same id and run) brings that entry, which joins the collection in the worker.
      for (const collection of closureState(this.session).weak) {
        if (this.index.has(collection)) continue;
        for (let i = 0; i < travelling.length; i++) {
          if (!weakHas(collection, travelling[i])) continue;
          this.transform(collection, 'an earlier payload of the run');
          break;
        }
      }
      // this.weak grows while entries are added (a value holding another collection): a plain loop sees the new ones.
      for (let w = 0; w < this.weak.length; w++) {
        const weak = this.weak[w]!;
        const isMap = weak.record.kind === 'WeakMap';
        for (; weak.asked < travelling.length; weak.asked++) {
          const key = travelling[weak.asked];
          if (!(isMap ? weakMapHas : weakSetHas).call(weak.collection, key as object)) continue;
          const at = `${weak.path} -> entry`;
          weak.record.entries.push([this.transform(key, at), isMap ? this.transform(weakMapGet.call(weak.collection as WeakMap<object, unknown>, key as object), at) : undefined]);
          added = true;
        }
      }
    }
  }

  /** What becomes a node rather than data. */
  private isSpecial = (value: unknown): boolean => {
    // A symbol inside data (an array item, a Map key) is a node like a captured one: V8's serializer refuses symbols.
    if (typeof value === 'function' || typeof value === 'symbol') return true;
    if (typeof value !== 'object' || value === null) return false;
    // Already a node (a prototype, say): every other reference to it is its marker.
    if (this.index.has(value)) return true;
    if (referenceKindOf(value) || unsendableReason(value) || globalNameOf(value)) return true;
    if (Array.isArray(value)) return false;
    // A large binary value the run keeps a copy of: a node naming the copy, not the bytes.
    if (this.session.keepLarge?.accepts(value)) return true;
    if (isClassInstance(value)) return true;
    const proto = Object.getPrototypeOf(value) as unknown;
    // Structured clone gives a null-prototype object Object.prototype, and forgets freezing.
    if (proto === null || (proto === Object.prototype && !Object.isExtensible(value))) return true;
    if (proto !== Object.prototype) return false;
    // Non-enumerable properties are dropped by structured clone.
    if (Object.getOwnPropertyNames(value).some((key) => !Object.prototype.propertyIsEnumerable.call(value, key))) return true;
    // Symbol-keyed properties ([Symbol.iterator]() {...}) are dropped by structured clone.
    if (Object.getOwnPropertySymbols(value).length) return true;
    return this.options.accessors && hasAccessor(value);
  };

  /** `value` with its special parts replaced by markers; `where` is its path, for errors. */
  transform(value: unknown, where: string): unknown {
    if (typeof value === 'symbol') return this.marker(value, () => reduceSymbol(value));
    return substitute(value, this.isSpecial, (special, steps) => this.replace(special as object, pathThrough(where, steps)), this.copies);
  }

  private replace(special: object, path: string): unknown {
    if (typeof special === 'symbol') return this.transform(special, path);
    const kept = this.session.keepLarge;
    if (kept?.accepts(special)) return this.marker(special, () => ({ t: 'ref', ...kept.keep(special, path) }) as NodeRecord);
    const kind = referenceKindOf(special);
    // A wrapped value takes the slow path: here, that is this codec itself.
    if (kind && 'inline' in kind.inGraph) return this.transform(kind.inGraph.inline(special), path);
    const reason = unsendableReason(special);
    // A package's own namespace or weak collection, reached through its exports, travels by reference.
    // A weak collection travels with the entries whose keys travel (nodes/weakCollections.ts).
    if (reason && !moduleNode.claims!(special) && !weakNode.claims!(special)) throw new UnserializableValueError(reason, path, RESOURCE_REMEDY);
    if (!reason && typeof special === 'object' && !moduleNode.claims!(special)) refuseHeldByPackage(special, path);
    if (typeof special === 'function' && !this.functionPaths.has(special)) this.functionPaths.set(special, path);
    return this.marker(special, () => reduceToNode(special, this, path));
  }

  copyFromPackage(fn: Function, name: string, path: string): void {
    if (this.counted.has(fn)) return;
    this.counted.add(fn);
    const copies = this.packageCopies;
    copies.first ??= { name, path };
    copies.byPackage.set(name, (copies.byPackage.get(name) ?? 0) + 1);
    if (++copies.count > PACKAGE_COPY_BUDGET) this.refuseLibraryInstance(`whose functions no export reaches: more than ${PACKAGE_COPY_BUDGET} would be copied one by one`);
    this.packageReference(path);
  }

  /** A package function met (by reference or copied): counted when a copied package function holds it. */
  packageReference(_path: string): void {
    if (this.packageCopyDepth > 0 && ++this.packageCopies.reached > PACKAGE_REACH_BUDGET) {
      this.refuseLibraryInstance(`that reaches more than ${PACKAGE_REACH_BUDGET} functions of installed packages`);
    }
  }

  /** `run` walks what a copied package function holds. */
  withinPackageCopy<T>(run: () => T): T {
    this.packageCopyDepth++;
    try {
      return run();
    } finally {
      this.packageCopyDepth--;
    }
  }

  private refuseLibraryInstance(what: string): never {
    const { byPackage, first } = this.packageCopies;
    const counts = [...byPackage].sort((a, b) => b[1] - a[1]).map(([pkg, n]) => `\`${pkg}\` ${n}`);
    throw new UnserializableValueError(
      `it holds an object the package \`${first!.name}\` built as the program ran (a library instance, say) ${what} ` +
        `(copied so far: ${counts.join(', ')}; the first at ${first!.path})`,
      first!.path,
      packageRemedy(first!.name),
    );
  }

  /**
   * Count the package functions among `members` (the values a node holds, each with its path)
   * before any of them is walked into: the walk is depth first, so a library instance's first
   * member would otherwise be captured, and everything it holds, before its siblings were
   * counted; counted first, the budget trips at the instance's own members.
   */
  countPackageCopies(members: Iterable<readonly [unknown, string]>): void {
    for (const [value, path] of members) {
      if (typeof value !== 'function' || this.index.has(value) || this.counted.has(value)) continue;
      const route = packageRoute(value);
      if (route && 'copy' in route) this.copyFromPackage(value, route.copy, path);
    }
  }

  /** The marker for `key`'s node, made once: a value met twice (or in a cycle) is one node. */
  marker(key: unknown, make: () => NodeRecord): { [mark: string]: number } {
    let at = this.index.get(key);
    if (at === undefined) {
      at = this.nodes.length;
      this.index.set(key, at);
      this.nodes.push(undefined as unknown as NodeRecord);
      this.nodes[at] = make();
    }
    return { [MARK]: at };
  }

  recordOf(encoded: unknown): NodeRecord | undefined {
    if (typeof encoded !== 'object' || encoded === null) return undefined;
    const at = (encoded as Record<string, unknown>)[MARK];
    return typeof at === 'number' ? this.nodes[at] : undefined;
  }

  /** The session's capture of `fn`, taken once per session. */
  capture(fn: Function): Capture {
    let capture = this.captures.get(fn);
    if (!capture) this.captures.set(fn, (capture = captureFunction(fn)));
    return capture;
  }

  /** A by-reference value met inside the graph: it travels as a def beside the bytes. */
  companion(value: object): void {
    this.session.companions.add(value);
  }

  /**
   * `value` as a node of its own, whatever it holds (a prototype: its identity and every
   * descriptor matter); the data copy instead when it was already taken as data.
   */
  node(value: object, path: string): unknown {
    if (this.copies.has(value)) return this.copies.get(value);
    if (this.index.has(value) || typeof value === 'function' || this.isSpecial(value)) return this.transform(value, path);
    return this.marker(value, () => reduceToNode(value, this, path));
  }
}
