import type vm from 'node:vm';

/**
 * node:crypto when the first id is minted, not at import: a worker imports this module at its
 * start (markWorkerRealm) and mints ids only when it sends a class, a weak collection or a
 * symbol of its own (runtime/onDemand.ts).
 */
const randomUUID = () => process.getBuiltinModule('node:crypto').randomUUID();

/**
 * Class identity across realms (cloudpickle's class tracker). Each class
 * gets one id for the life of the process that defines it; each realm keeps
 * the classes it rebuilt, by id, so `instanceof` holds across payloads and
 * an instance sent back (a result) gets the very class it left with.
 */
const classIds = new WeakMap<Function, string>();

/** The id of a class this realm defines or rebuilt, if it has one. */
export function knownClassId(cls: Function): string | undefined {
  return classIds.get(cls);
}

/** The class's id, made on first use: this realm owns that class for good. */
export function classIdOf(cls: Function): string {
  let id = classIds.get(cls);
  if (!id) {
    classIds.set(cls, (id = randomUUID()));
    // This realm owns the class: an instance that comes back (a result) gets this very class.
    classRegistry(undefined).set(id, { epoch: '*', cls });
  }
  return id;
}

/**
 * Classes in each realm, by id. The realm that defined a class keeps it for
 * good (epoch '*'); a receiving realm keeps the snapshot of one run and
 * replaces it when a later run sends a newer one, so a class whose captured
 * values changed is rebuilt, and memory holds one snapshot per class.
 */
export interface KnownClass {
  epoch: string;
  cls: Function;
}
const rebuiltClasses = new WeakMap<object, Map<string, KnownClass>>();
const THIS_REALM = {};

export function classRegistry(context: vm.Context | undefined): Map<string, KnownClass> {
  const key = context ?? THIS_REALM;
  let registry = rebuiltClasses.get(key);
  if (!registry) rebuiltClasses.set(key, (registry = new Map()));
  return registry;
}

/** A class rebuilt here from what a peer sent: it keeps the id it arrived with, and goes back by id. */
export function noteReceivedClass(cls: Function, id: string, epoch: string, context: vm.Context | undefined): void {
  classRegistry(context).set(id, { epoch, cls });
  classIds.set(cls, id);
  receivedClassIds.add(id);
}

// Class ids this realm received from its peer: sent back, they go by id only.
const receivedClassIds = new Set<string>();
let isWorkerRealm = false;

/** Called by the worker runtimes: a worker's peer (the main thread) holds every class it sent. */
export function markWorkerRealm(): void {
  isWorkerRealm = true;
}

/** A worker sending back a class its peer sent: the peer has it, an id is enough. */
export function peerHoldsClass(id: string): boolean {
  return isWorkerRealm && receivedClassIds.has(id);
}

/**
 * WeakMaps and WeakSets by id, like classes: the realm that made one keeps it for good (epoch
 * '*'), so the entries of objects that come back (results, instances with downlevelled #private
 * state) join the original; a receiving realm keeps one per run (epoch), which every payload of
 * the run joins (a class rebuilt for the run keeps its collection, the arguments' instances join
 * it), and a later run gets a fresh one: each run sees the entries as at its submission. Held
 * weakly: once no code holds a collection, no entry of it can be observed, and a fresh one is
 * just as good.
 */
const collectionIds = new WeakMap<object, string>();
interface KnownCollection {
  epoch: string;
  ref: WeakRef<object>;
}
const knownCollections = new WeakMap<object, Map<string, KnownCollection>>();
const forget = new FinalizationRegistry<{ registry: Map<string, KnownCollection>; id: string; ref: WeakRef<object> }>(({ registry, id, ref }) => {
  if (registry.get(id)?.ref === ref) registry.delete(id);
});

function collections(context: vm.Context | undefined): Map<string, KnownCollection> {
  const key = context ?? THIS_REALM;
  let registry = knownCollections.get(key);
  if (!registry) knownCollections.set(key, (registry = new Map()));
  return registry;
}

function remember(registry: Map<string, KnownCollection>, id: string, epoch: string, collection: object): void {
  const ref = new WeakRef(collection);
  registry.set(id, { epoch, ref });
  forget.register(collection, { registry, id, ref });
}

export function collectionIdOf(collection: object): string {
  let id = collectionIds.get(collection);
  if (!id) {
    collectionIds.set(collection, (id = randomUUID()));
    remember(collections(undefined), id, '*', collection);
  }
  return id;
}

/**
 * The collection `id` of run `epoch` in this realm (or `context`): the one it has (`joined`),
 * or a new one from `make`, which keeps the id it arrived with (sent back, it joins the original).
 */
export function receivedCollection(id: string, epoch: string, context: vm.Context | undefined, make: () => object): { collection: object; joined: boolean } {
  const registry = collections(context);
  const known = registry.get(id);
  const collection = known && (known.epoch === '*' || known.epoch === epoch) ? known.ref.deref() : undefined;
  if (collection) return { collection, joined: true };
  const made = make();
  remember(registry, id, epoch, made);
  collectionIds.set(made, id);
  return { collection: made, joined: false };
}

/**
 * Unique symbols (`Symbol('tag')`) by id, like classes: the process that made one gives it an
 * id once, and a receiving realm makes one new symbol per id (same description) and keeps it,
 * so a symbol met as a key, as a captured value and in a later payload (a task's arguments) is
 * one symbol there, and one sent back (a result) is the original again. Held weakly both ways:
 * a symbol nothing holds any more cannot be compared with anything, so a new one is as good.
 */
// Node 20 takes unique symbols as weak keys and targets; TypeScript's lib (ES2022) types them as objects only.
type WeakSymbol = symbol & object;
const symbolIds = new WeakMap<WeakSymbol, string>();
const symbolsById = new Map<string, WeakRef<WeakSymbol>>();
const forgetSymbol = new FinalizationRegistry<string>((id) => {
  if (symbolsById.get(id)?.deref() === undefined) symbolsById.delete(id);
});

function noteSymbol(symbol: symbol, id: string): void {
  const weak = symbol as WeakSymbol;
  symbolIds.set(weak, id);
  symbolsById.set(id, new WeakRef(weak));
  forgetSymbol.register(weak, id);
}

/** The id of a unique symbol, made on first use. */
export function symbolIdOf(symbol: symbol): string {
  let id = symbolIds.get(symbol as WeakSymbol);
  if (!id) noteSymbol(symbol, (id = randomUUID()));
  return id;
}

/** The symbol this process knows by `id` (its own, or one it made for a peer's), or a new one with that description. */
export function symbolById(id: string, description: string | undefined): symbol {
  const known = symbolsById.get(id)?.deref();
  if (known !== undefined) return known;
  const made = Symbol(description);
  noteSymbol(made, id);
  return made;
}
