import { randomBytes, randomUUID } from 'node:crypto';
import { types } from 'node:util';
import vm from 'node:vm';
import { formatPath, type PathStep } from '../serialize/paths.js';
import { substitute } from '../serialize/substitute.js';
import { someInGraph } from '../serialize/walk.js';
import { UnserializableValueError } from '../serialize/types.js';
import { isWrapped, unwrap } from '../serialize/wrap.js';
import { captureFunction, SUPER_NAME, type Capture } from './capture.js';
import { isWorkerGlobal } from './globals.js';
import { loadModuleRef } from './modules.js';
import { wrapSource, type SourceForm } from './sourceForm.js';
import { isPersisted, PersistedModel } from '../sharing/persisted.js';
import { Counter, isCounter, noteCounter, type CounterState } from '../sharing/counter.js';
import { isSharedView } from '../sharing/sharedArray.js';

/**
 * The closure codec: a value graph, functions included, as plain data.
 *
 * Functions, class instances and the like become nodes of a table; in the
 * data they are replaced by one-key marker objects `{ [mark]: index }`. The
 * result (data with markers, and the node table) is plain enough for V8's
 * serializer, so the data part of a payload costs what structured clone
 * costs, and shared objects and cycles keep their identity for free.
 *
 * Rebuilding creates each node once. A function is compiled with its
 * captured variables as `let` bindings of a wrapper; a binding whose value
 * is still being built (recursion, mutual recursion) is set through the
 * wrapper's setter once that value exists.
 */
export interface Graph {
  mark: string;
  root: unknown;
  nodes: NodeRecord[];
}

/** A property key: a string, or a symbol by its well-known or registered name. */
type KeyRecord = string | { w: string } | { r: string };
/** [key, flags, value] for data properties, [key, flags | ACCESSOR, getter, setter] for accessors. */
type PropRecord = [KeyRecord, number, unknown?, unknown?];
const ENUMERABLE = 1;
const WRITABLE = 2;
const CONFIGURABLE = 4;
const ACCESSOR = 8;

export type NodeRecord =
  | {
      t: 'fn';
      name: string;
      source: string;
      form: SourceForm;
      strict: boolean;
      vars: Record<string, unknown>;
      /** Lexical `this` of an arrow function. */
      self?: unknown;
      /** Parent class, for a class whose `extends` was rewritten. */
      sup?: unknown;
      /** Own enumerable properties (static fields, `fn.cache = ...`). */
      props: Record<string, unknown>;
      /** Own enumerable properties of an old-style constructor's prototype. */
      protoProps?: Record<string, unknown>;
      /** Class identity: a realm rebuilds a class once and reuses it, so `instanceof` holds across payloads. */
      cid?: string;
      /** The run (capture epoch) this snapshot of the class belongs to: a later run's snapshot replaces it. */
      cep?: string;
    }
  /** A class the receiver already has (it sent it): by id only. */
  | { t: 'classref'; cid: string }
  /** A registered (Symbol.for) or well-known symbol. */
  | { t: 'symbol'; registered?: string; wellKnown?: string }
  /** A persisted value, by its file: the receiver reads it on get(); `owner` when ownership was transferred. */
  | { t: 'persisted'; id: string; path: string; owner: boolean }
  /** A shared Counter, by id: its memory travels beside the payload, as a def. */
  | { t: 'counter'; state: CounterState }
  | { t: 'bound'; target: unknown; thisArg: unknown; args: unknown[] }
  | { t: 'module'; specifier: string; binding: string }
  | { t: 'global'; path: string }
  | {
      t: 'object';
      cls?: unknown;
      proto?: unknown;
      props: PropRecord[];
      /** The built-in an instance extends, and what fills its internal slots: [kind, ...contents]. */
      base?: [string, ...unknown[]];
    };

/** Marker key: random per process, so user data can never pass for a marker. */
const MARK = `__jobletNode_${randomBytes(9).toString('base64url')}`;

// Structured clone carries these natively (prototype included).
const NATIVE_PROTOTYPES = new Set<unknown>([
  Object.prototype, Array.prototype, Date.prototype, RegExp.prototype, Map.prototype, Set.prototype,
  ArrayBuffer.prototype, SharedArrayBuffer.prototype, DataView.prototype,
  Boolean.prototype, Number.prototype, String.prototype, BigInt.prototype,
  Error.prototype, EvalError.prototype, RangeError.prototype, ReferenceError.prototype,
  SyntaxError.prototype, TypeError.prototype, URIError.prototype,
]);

const NATIVE_TYPED_ARRAY_PROTOTYPES = new Set<unknown>(
  [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map((c) => c.prototype),
);
// Buffer is Node's own Uint8Array: structured clone carries it.
NATIVE_TYPED_ARRAY_PROTOTYPES.add(Buffer.prototype);

/** 'r:key' for a registered symbol, { w: name } for a well-known one, undefined for a unique one. */
function symbolRecord(symbol: symbol): string | { w: string } | undefined {
  const registered = Symbol.keyFor(symbol);
  if (registered !== undefined) return `r:${registered}`;
  for (const name of Object.getOwnPropertyNames(Symbol)) {
    if ((Symbol as unknown as Record<string, unknown>)[name] === symbol) return { w: name };
  }
  return undefined;
}

/**
 * True for an object that structured clone would flatten or strip: a class
 * instance (its prototype), or a built-in Error with properties of its own
 * (V8 keeps only name, message and stack). A null-prototype object is fine.
 */
export function isClassInstance(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  if (proto === null) return false;
  // A typed array of a subclass of its own (class Vec extends Float64Array) needs the codec; plain ones do not.
  if (ArrayBuffer.isView(value)) return types.isTypedArray(value) && !NATIVE_TYPED_ARRAY_PROTOTYPES.has(proto);
  if (!NATIVE_PROTOTYPES.has(proto)) return true;
  return types.isNativeError(value) && Object.keys(value).length > 0;
}

/** The native typed-array constructor a (subclassed) typed array is made of. */
function nativeTypedArrayOf(value: object): Function | undefined {
  for (let proto = Object.getPrototypeOf(value); proto; proto = Object.getPrototypeOf(proto)) {
    if (NATIVE_TYPED_ARRAY_PROTOTYPES.has(proto)) return (proto as { constructor: Function }).constructor;
  }
  return undefined;
}

/** A built-in an instance is made of, whose internal slots Object.create cannot give it. */
function builtinBase(value: object): 'Date' | 'Map' | 'Set' | 'RegExp' | 'Error' | 'TypedArray' | undefined {
  if (types.isTypedArray(value)) return 'TypedArray';
  if (types.isDate(value)) return 'Date';
  if (types.isMap(value)) return 'Map';
  if (types.isSet(value)) return 'Set';
  if (types.isRegExp(value)) return 'RegExp';
  if (types.isNativeError(value)) return 'Error';
  return undefined;
}

// The native error constructors may stand as an instance's class: they are the worker's own too.
const NATIVE_ERRORS = new Set<unknown>([Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]);

// Global objects (Math, console, process, ...) travel by name; the worker has its own.
let globalObjects: Map<unknown, string> | undefined;
function globalNameOf(value: unknown): string | undefined {
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

function unsendableReason(value: object): string | undefined {
  if (types.isProxy(value)) return 'a Proxy cannot be sent (its handler is code joblet cannot see)';
  if (isSharedView(value)) return 'a shared array captured by a function cannot be sent; pass it to the task as an argument, where thread workers share it';
  if (value instanceof WeakMap || value instanceof WeakSet) return `a ${value.constructor.name} cannot be sent (its entries cannot be enumerated)`;
  if (value instanceof WeakRef) return 'a WeakRef cannot be sent (its target is held weakly and may be gone)';
  if (value instanceof Promise) return 'a Promise cannot be sent; await it first';
  if (types.isModuleNamespaceObject(value)) return 'a module namespace reached as data cannot be sent; import the module in the task';
  return undefined;
}

const RESOURCE_REMEDY =
  'Create it inside the task (or once per worker), send the data it holds instead, or keep it in the main thread.';

// Each class gets one id for the life of this process (cloudpickle's class tracker).
const classIds = new WeakMap<Function, string>();
function classIdOf(cls: Function): string {
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
interface KnownClass {
  epoch: string;
  cls: Function;
}
const rebuiltClasses = new WeakMap<object, Map<string, KnownClass>>();
const THIS_REALM = {};
function classRegistry(context: vm.Context | undefined): Map<string, KnownClass> {
  const key = context ?? THIS_REALM;
  let registry = rebuiltClasses.get(key);
  if (!registry) rebuiltClasses.set(key, (registry = new Map()));
  return registry;
}

// Class ids this realm received from its peer: sent back, they go by id only.
const receivedClassIds = new Set<string>();
let isWorkerRealm = false;
/** Called by the worker runtimes: a worker's peer (the main thread) holds every class it sent. */
export function markWorkerRealm(): void {
  isWorkerRealm = true;
}

/** Per-run cache of captures, so a function submitted with 10,000 tasks is captured once. */
let activeCaptures: Map<Function, Capture> | undefined;
const epochs = new WeakMap<Map<Function, Capture>, string>();

/** Run `fn` with a capture cache shared by every encoding inside it (one run's tasks). */
export function withCaptureCache<T>(captures: Map<Function, Capture>, fn: () => T): T {
  const previous = enterCaptureCache(captures);
  try {
    return fn();
  } finally {
    leaveCaptureCache(previous);
  }
}

/**
 * withCaptureCache in two calls, for a caller that runs per task and would otherwise make a
 * closure each time: `leaveCaptureCache(enterCaptureCache(captures))`, the second in a finally.
 */
export function enterCaptureCache(captures: Map<Function, Capture>): Map<Function, Capture> | undefined {
  const previous = activeCaptures;
  activeCaptures = captures;
  return previous;
}

export function leaveCaptureCache(previous: Map<Function, Capture> | undefined): void {
  activeCaptures = previous;
}

export interface EncodeOptions {
  /** Also turn plain objects with getters or setters into nodes (the closure serializer does; auto does not look). */
  accessors: boolean;
}

/** Encode a value graph; throws UnserializableValueError with a path through captures. */
export function encodeGraph(value: unknown, options: EncodeOptions = { accessors: true }): Graph {
  return new GraphEncoder(options).encode(value);
}

class GraphEncoder {
  private readonly nodes: NodeRecord[] = [];
  private readonly index = new Map<unknown, number>();
  private readonly captures = activeCaptures ?? new Map<Function, Capture>();
  /** One epoch per run (per capture cache): every payload of a run shares its classes' snapshots. */
  private readonly epoch: string;

  constructor(private readonly options: EncodeOptions) {
    let epoch = epochs.get(this.captures);
    if (!epoch) epochs.set(this.captures, (epoch = randomUUID()));
    this.epoch = epoch;
  }

  encode(value: unknown): Graph {
    // Pure data (the common payload) is sent as it is: one scan, no copy, no markers.
    if (!someInGraph(value, this.isSpecial)) return { mark: MARK, root: value, nodes: [] };
    return { mark: MARK, root: this.transform(value, ''), nodes: this.nodes };
  }

  private isSpecial = (value: unknown): boolean => {
    if (typeof value === 'function') return true;
    if (typeof value !== 'object' || value === null) return false;
    if (isWrapped(value) || isPersisted(value) || isCounter(value) || unsendableReason(value) || globalNameOf(value)) return true;
    if (Array.isArray(value)) return false;
    if (isClassInstance(value)) return true;
    if (Object.getPrototypeOf(value) !== Object.prototype) return false;
    // Symbol-keyed properties ([Symbol.iterator]() {...}) are dropped by structured clone.
    if (Object.getOwnPropertySymbols(value).length) return true;
    return this.options.accessors && hasAccessor(value);
  };

  private transform(value: unknown, where: string): unknown {
    if (typeof value === 'symbol') return this.symbolNode(value, where);
    return substitute(value, this.isSpecial, (special, steps) => this.replace(special, pathThrough(where, steps)));
  }

  private replace(special: unknown, path: string): unknown {
    // A wrapped value takes the slow path: here, that is this codec itself.
    if (isWrapped(special)) return this.transform(unwrap(special), path);
    const known = this.index.get(special);
    if (known !== undefined) return { [MARK]: known };
    const at = this.nodes.length;
    this.index.set(special, at);
    this.nodes.push(undefined as unknown as NodeRecord);
    this.nodes[at] = this.build(special as object, path);
    return { [MARK]: at };
  }

  private build(value: object, path: string): NodeRecord {
    const reason = unsendableReason(value);
    if (reason) throw new UnserializableValueError(reason, path, RESOURCE_REMEDY);
    const globalName = globalNameOf(value);
    if (globalName) return { t: 'global', path: globalName };
    // A persisted value inside a closure or a result: its file, which any worker or the main thread can read.
    if (isPersisted(value)) return { t: 'persisted', id: value.id, path: value.writeFile(), owner: value.transfers };
    // A counter: by id; the task encoder sends its shared memory as a def (no buffer can go through v8.serialize).
    if (isCounter(value)) {
      noteCounter(value);
      return { t: 'counter', state: { ...value.state(false), value: 0 } };
    }
    if (typeof value === 'function') return this.buildFunction(value, path);
    return this.buildObject(value, path);
  }

  private buildFunction(fn: Function, path: string): NodeRecord {
    const knownId = classIds.get(fn);
    // A worker sending back a class its peer sent: the peer has it, an id is enough.
    if (knownId !== undefined && isWorkerRealm && receivedClassIds.has(knownId)) return { t: 'classref', cid: knownId };
    let capture = this.captures.get(fn);
    if (!capture) {
      capture = captureFunction(fn);
      this.captures.set(fn, capture);
    }
    switch (capture.kind) {
      case 'unsupported':
        throw new UnserializableValueError(`function \`${capture.name}\` cannot be sent: ${capture.reason}`, path, RESOURCE_REMEDY);
      case 'global':
        return { t: 'global', path: capture.path };
      case 'module':
        return { t: 'module', ...capture.ref };
      case 'bound':
        return {
          t: 'bound',
          target: this.transform(capture.target, `${path} -> bound target`),
          thisArg: this.transform(capture.thisArg, `${path} -> bound this`),
          args: this.transform(capture.args, `${path} -> bound arguments`) as unknown[],
        };
      case 'source': {
        const vars: Record<string, unknown> = {};
        for (const [name, captured] of capture.values) vars[name] = this.transform(captured, `${path} -> captured '${name}'`);
        for (const [name, ref] of capture.modules) vars[name] = this.moduleNode(ref.specifier, ref.binding);
        const record: NodeRecord = {
          t: 'fn',
          name: capture.name,
          source: capture.source,
          form: capture.form,
          strict: capture.strict,
          vars,
          props: this.ownProperties(fn, path, ['prototype']),
        };
        if (capture.lexicalThis) record.self = this.transform(capture.lexicalThis.value, `${path} -> this`);
        if (capture.superClass) record.sup = this.transform(capture.superClass.value, `${path} -> extends`);
        const prototype = (fn as { prototype?: unknown }).prototype;
        if (!capture.isClass && typeof prototype === 'object' && prototype !== null && Object.keys(prototype).length) {
          record.protoProps = this.ownProperties(prototype, `${path}.prototype`, ['constructor']);
        }
        if (capture.isClass || record.protoProps) {
          record.cid = classIdOf(fn);
          record.cep = this.epoch;
        }
        return record;
      }
    }
  }

  /** Refuse an instance whose class (or an ancestor) has `#private` members: that state cannot be copied. */
  private refusePrivateState(ctor: Function, path: string): void {
    for (let cls: unknown = ctor; typeof cls === 'function' && cls !== Function.prototype; cls = Object.getPrototypeOf(cls)) {
      let capture = this.captures.get(cls);
      if (!capture) this.captures.set(cls, (capture = captureFunction(cls)));
      if (capture.kind === 'source' && capture.hasPrivateMembers) {
        throw new UnserializableValueError(
          `an instance of \`${ctor.name}\` cannot be sent: its class ${cls === ctor ? '' : `(through \`${cls.name}\`) `}has #private members, whose state no copy can restore`,
          path,
          'Use public fields for state that must travel, or send the data and build the instance inside the task.',
        );
      }
    }
  }

  private symbolNode(symbol: symbol, path: string): unknown {
    const record = symbolRecord(symbol);
    if (!record) throw new UnserializableValueError('a unique Symbol cannot be sent (only Symbol.for(...) and well-known symbols exist in every worker)', path, 'Use Symbol.for(key), or a string.');
    const at = this.nodes.length;
    this.nodes.push(typeof record === 'string' ? { t: 'symbol', registered: record.slice(2) } : { t: 'symbol', wellKnown: record.w });
    return { [MARK]: at };
  }

  private moduleNode(specifier: string, binding: string): unknown {
    const key = `module:${specifier}#${binding}`;
    let at = this.index.get(key);
    if (at === undefined) {
      at = this.nodes.length;
      this.index.set(key, at);
      this.nodes.push({ t: 'module', specifier, binding });
    }
    return { [MARK]: at };
  }

  private buildObject(value: object, path: string): NodeRecord {
    const proto = Object.getPrototypeOf(value) as object | null;
    const record: Extract<NodeRecord, { t: 'object' }> = { t: 'object', props: [] };
    const ctor = proto && Object.hasOwn(proto, 'constructor') ? (proto as { constructor: unknown }).constructor : undefined;
    if (proto === null) record.proto = null;
    else if (proto === Object.prototype) record.proto = 'object';
    else if (NATIVE_ERRORS.has(ctor)) record.cls = this.transform(ctor, `${path} -> class`);
    else if (typeof ctor === 'function' && ctor.prototype === proto) {
      const capture = this.captures.get(ctor) ?? captureFunction(ctor);
      this.captures.set(ctor, capture);
      if (capture.kind !== 'source') {
        // Node's own classes (sockets, streams, URL): their state lives in native handles or private fields.
        throw new UnserializableValueError(
          `an instance of \`${ctor.name}\` cannot be sent: its class is part of Node, and its state (handles, private fields) cannot be copied`,
          path,
          RESOURCE_REMEDY,
        );
      }
      this.refusePrivateState(ctor, path);
      record.cls = this.transform(ctor, `${path} -> class`);
    } else record.proto = this.transform(proto, `${path} -> prototype`);
    const base = builtinBase(value);
    if (base === 'Date') record.base = [base, (value as Date).getTime()];
    else if (base === 'RegExp') record.base = [base, (value as RegExp).source, (value as RegExp).flags];
    else if (base === 'Error') record.base = [base, (value as Error).message];
    else if (base === 'Map') record.base = [base, this.transform([...(value as Map<unknown, unknown>)], `${path} -> entries`)];
    else if (base === 'Set') record.base = [base, this.transform([...(value as Set<unknown>)], `${path} -> items`)];
    else if (base === 'TypedArray') {
      const view = value as unknown as { constructor: unknown } & ArrayBufferView;
      const native = nativeTypedArrayOf(view)!;
      record.base = [base, native.name, new (native as unknown as new (source: ArrayBufferView) => ArrayBufferView)(view)];
    }
    const keys: (string | symbol)[] = [...Object.getOwnPropertyNames(value), ...Object.getOwnPropertySymbols(value)];
    for (const key of keys) {
      // A typed array's indices are its contents, carried in `base`.
      if (base === 'TypedArray' && typeof key === 'string' && /^\d+$/.test(key)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
      const flags = (descriptor.enumerable ? ENUMERABLE : 0) | (descriptor.configurable ? CONFIGURABLE : 0);
      const label = typeof key === 'string' ? key : `[${String(key)}]`;
      const at = pathThrough(path, [{ kind: 'key', key: label }]);
      let keyRecord: KeyRecord;
      if (typeof key === 'string') keyRecord = key;
      else {
        const symbol = symbolRecord(key);
        if (!symbol) throw new UnserializableValueError(`a property keyed by a unique ${String(key)} cannot be sent`, at, 'Key it by Symbol.for(...), a well-known symbol, or a string.');
        keyRecord = typeof symbol === 'string' ? { r: symbol.slice(2) } : symbol;
      }
      if ('value' in descriptor) record.props.push([keyRecord, flags | (descriptor.writable ? WRITABLE : 0), this.transform(descriptor.value, at)]);
      else record.props.push([keyRecord, flags | ACCESSOR, this.transform(descriptor.get, at), this.transform(descriptor.set, at)]);
    }
    return record;
  }

  private ownProperties(holder: object, path: string, skip: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(holder)) {
      if (!skip.includes(key)) out[key] = this.transform((holder as Record<string, unknown>)[key], pathThrough(path, [{ kind: 'key', key }]));
    }
    return out;
  }
}

/** `fn -> captured 'db' -> .pool.socket`: steps below a capture read as their own hop. */
function pathThrough(where: string, steps: PathStep[]): string {
  if (!steps.length || !where.endsWith("'")) return formatPath(where, steps);
  return `${where} -> ${formatPath('', steps)}`;
}

function resolveGlobal(path: string): unknown {
  let value: unknown = globalThis;
  for (const part of path.split('.')) value = (value as Record<string, unknown>)[part];
  if (value === undefined) throw new Error(`globalThis.${path} does not exist in this worker`);
  return value;
}

function hasAccessor(value: object): boolean {
  for (const key of Object.keys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor && !('value' in descriptor)) return true;
  }
  return false;
}

/** Where functions are compiled: this realm, or a vm context (tests use a fresh one). */
export interface DecodeOptions {
  context?: vm.Context;
}

const EARLY = '__jobletEarly$';
const THIS = '__jobletThis$';
// Names a strict wrapper cannot declare with `let`; a capture of one of them is dropped.
const RESERVED = new Set(['arguments', 'eval', 'let', 'static', 'yield', 'await', 'implements', 'interface', 'package', 'private', 'protected', 'public']);

type Compiled = [Function, (name: string, value: unknown) => void];

function compileNode(record: Extract<NodeRecord, { t: 'fn' }>, early: Record<string, unknown>, sup: unknown, self: unknown, options: DecodeOptions): Compiled {
  const names = Object.keys(record.vars).filter((name) => !RESERVED.has(name));
  const declarations = names.length ? `let ${names.map((n) => `${n} = ${EARLY}[${JSON.stringify(n)}]`).join(', ')};` : '';
  const setter = `function (name, value) { switch (name) { ${names.map((n) => `case ${JSON.stringify(n)}: ${n} = value; break;`).join(' ')} } }`;
  const expression =
    record.form === 'expression'
      ? wrapSource(record.source, 'expression')
      : `((o) => { const d = Object.getOwnPropertyDescriptors(o); const k = Reflect.ownKeys(d)[0]; return d[k].value ?? d[k].get ?? d[k].set; })(${wrapSource(record.source, 'method')})`;
  const body = record.self === undefined ? `return [${expression}, ${setter}];` : `return (function () { return [${expression}, ${setter}]; }).call(${THIS});`;
  const code = `(function (${EARLY}, ${SUPER_NAME}, ${THIS}) { ${record.strict ? "'use strict';" : ''} ${declarations} ${body} })`;
  const factory = (options.context ? vm.runInContext(code, options.context) : (0, eval)(code)) as (...a: unknown[]) => Compiled;
  const compiled = factory(early, sup, self);
  // A name inferred from where the function stood (`{ applyRate: (x) => ... }`) is not in its source: set it back.
  const [fn] = compiled;
  if (record.name && fn.name !== record.name && Object.getOwnPropertyDescriptor(fn, 'name')?.configurable) {
    Object.defineProperty(fn, 'name', { value: record.name, configurable: true });
  }
  return compiled;
}

/** An instance of a built-in subclass, made by the built-in itself so that its internal slots exist. */
function constructOnBase(record: Extract<NodeRecord, { t: 'object' }>, value: (v: unknown) => unknown, options: DecodeOptions): object {
  let [kind, ...contents] = record.base!;
  // A typed array names its native constructor, and carries its contents as one.
  if (kind === 'TypedArray') [kind, ...contents] = contents as [string, ...unknown[]];
  const Base = (options.context ? vm.runInContext(kind, options.context) : (globalThis as Record<string, unknown>)[kind]) as new (...a: unknown[]) => object;
  const Class = (record.cls === undefined ? Base : value(record.cls)) as Function;
  if (kind === 'Map' || kind === 'Set') {
    const made = Reflect.construct(Base, [], Class) as Map<unknown, unknown> & Set<unknown>;
    for (const entry of value(contents[0]) as unknown[]) {
      if (kind === 'Map') made.set((entry as [unknown, unknown])[0], (entry as [unknown, unknown])[1]);
      else made.add(entry);
    }
    return made;
  }
  return Reflect.construct(Base, contents, Class);
}

/** Rebuild a graph made by encodeGraph. */
export function decodeGraph(graph: Graph, options: DecodeOptions = {}): unknown {
  const { mark, nodes } = graph;
  // No node, no marker: nothing to rebuild, nothing to walk.
  if (nodes.length === 0) return graph.root;
  const built: unknown[] = new Array(nodes.length);
  const state = new Uint8Array(nodes.length); // 0 not started, 1 being built, 2 done
  const waiting = new Map<number, (() => void)[]>();
  const resolved = new Set<object>();

  const markerOf = (v: unknown): number | undefined => {
    if (typeof v !== 'object' || v === null) return undefined;
    const at = (v as Record<string, unknown>)[mark];
    return typeof at === 'number' && Object.keys(v).length === 1 ? at : undefined;
  };
  const whenBuilt = (at: number, then: () => void) => {
    if (state[at] === 2) then();
    else waiting.set(at, [...(waiting.get(at) ?? []), then]);
  };
  /** The value for `v`; when it is a node still being built, `assign` receives it later. */
  const value = (v: unknown, assign: (resolved: unknown) => void): unknown => {
    const at = markerOf(v);
    if (at === undefined) {
      resolveInPlace(v);
      return v;
    }
    if (state[at] === 1) {
      whenBuilt(at, () => assign(built[at]));
      return undefined;
    }
    return node(at);
  };
  const resolveInPlace = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || resolved.has(v) || ArrayBuffer.isView(v)) return;
    resolved.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (typeof child === 'object' && child !== null) v[i] = value(child, (r) => (v[i] = r));
      }
    } else if (v instanceof Map) {
      const entries = [...v];
      v.clear();
      for (const [k, child] of entries) {
        const key = value(k, () => {
          throw new Error('joblet: a Map key that refers back to a function being rebuilt is not supported');
        });
        v.set(key, value(child, (r) => v.set(key, r)));
      }
    } else if (v instanceof Set) {
      const items = [...v];
      v.clear();
      for (const item of items) v.add(value(item, (r) => v.add(r)));
    } else if (!(v instanceof Date) && !(v instanceof RegExp)) {
      const record = v as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const child = record[key];
        if (typeof child === 'object' && child !== null) record[key] = value(child, (r) => (record[key] = r));
      }
    }
  };
  const finish = (at: number) => {
    state[at] = 2;
    const then = waiting.get(at);
    waiting.delete(at);
    for (const callback of then ?? []) callback();
  };
  const node = (at: number): unknown => {
    if (state[at] !== 0) return built[at];
    state[at] = 1;
    const record = nodes[at]!;
    switch (record.t) {
      case 'classref': {
        const known = classRegistry(options.context).get(record.cid);
        if (!known) throw new Error(`joblet: class ${record.cid} is not known in this realm any more`);
        built[at] = known.cls;
        break;
      }
      case 'persisted':
        built[at] = PersistedModel.received(record.id, { file: record.path }, record.owner);
        break;
      case 'counter':
        // The one this side made or already received (its def came first), else one of its own (a process).
        built[at] = Counter.received(record.state);
        break;
      case 'symbol':
        built[at] = record.registered !== undefined ? Symbol.for(record.registered) : (Symbol as unknown as Record<string, symbol>)[record.wellKnown!];
        break;
      case 'global':
        // The realm's own global (Math, console, a builtin function), never a copy.
        built[at] = options.context ? vm.runInContext(`globalThis.${record.path}`, options.context) : resolveGlobal(record.path);
        break;
      case 'module':
        built[at] = loadModuleRef(record);
        break;
      case 'bound': {
        const target = value(record.target, () => {
          throw new Error('joblet: a bound function whose target refers back to it is not supported');
        }) as Function;
        built[at] = target.bind(value(record.thisArg, () => undefined), ...(value(record.args, () => undefined) as unknown[]));
        break;
      }
      case 'fn': {
        const registry = record.cid === undefined ? undefined : classRegistry(options.context);
        const known = record.cid === undefined ? undefined : registry!.get(record.cid);
        // The defining realm's own class, or this run's snapshot already rebuilt: reuse it.
        if (known && (known.epoch === '*' || known.epoch === record.cep)) {
          built[at] = known.cls;
          break;
        }
        const early: Record<string, unknown> = {};
        const late: [string, number][] = [];
        for (const [name, captured] of Object.entries(record.vars)) {
          const target = markerOf(captured);
          if (target !== undefined && state[target] === 1) late.push([name, target]);
          else early[name] = value(captured, () => undefined);
        }
        const sup = record.sup === undefined ? undefined : value(record.sup, () => undefined);
        const self = record.self === undefined ? undefined : value(record.self, () => undefined);
        const [fn, setLate] = compileNode(record, early, sup, self, options);
        built[at] = fn;
        if (record.cid !== undefined) {
          registry!.set(record.cid, { epoch: record.cep ?? '', cls: fn });
          // Sent back (an instance in a result), the rebuilt class keeps the id it arrived with.
          classIds.set(fn, record.cid);
          receivedClassIds.add(record.cid);
        }
        for (const [name, target] of late) whenBuilt(target, () => setLate(name, built[target]));
        for (const [key, v] of Object.entries(record.props)) {
          (fn as unknown as Record<string, unknown>)[key] = value(v, (r) => ((fn as unknown as Record<string, unknown>)[key] = r));
        }
        if (record.protoProps) {
          const prototype = (fn as { prototype: Record<string, unknown> }).prototype;
          for (const [key, v] of Object.entries(record.protoProps)) prototype[key] = value(v, (r) => (prototype[key] = r));
        }
        break;
      }
      case 'object': {
        if (record.base) {
          built[at] = constructOnBase(record, (v) => value(v, () => {
            throw new Error('joblet: an instance of a built-in subclass whose class refers back to it is not supported');
          }), options);
          defineProperties(built[at] as object, record.props, at);
          break;
        }
        const object: Record<string, unknown> = Object.create(null);
        built[at] = object;
        if (record.cls !== undefined) {
          const setPrototype = (cls: unknown) => Object.setPrototypeOf(object, (cls as { prototype: object }).prototype);
          const cls = value(record.cls, setPrototype);
          if (cls !== undefined) setPrototype(cls);
        } else if (record.proto === 'object') Object.setPrototypeOf(object, Object.prototype);
        else if (record.proto !== null) {
          const proto = value(record.proto, (p) => Object.setPrototypeOf(object, p as object));
          if (proto !== undefined) Object.setPrototypeOf(object, proto as object);
        }
        defineProperties(object, record.props, at);
        break;
      }
    }
    finish(at);
    return built[at];
  };
  function defineProperties(object: object, props: PropRecord[], at: number): void {
    for (const [keyRecord, flags, first, second] of props) {
      const key: string | symbol =
        typeof keyRecord === 'string' ? keyRecord : 'w' in keyRecord ? (Symbol as unknown as Record<string, symbol>)[keyRecord.w]! : Symbol.for(keyRecord.r);
      const descriptor: PropertyDescriptor = { enumerable: !!(flags & ENUMERABLE), configurable: true };
      if (flags & ACCESSOR) {
        descriptor.get = value(first, (g) => Object.defineProperty(object, key, { get: g as () => unknown })) as (() => unknown) | undefined;
        descriptor.set = value(second, (s) => Object.defineProperty(object, key, { set: s as (v: unknown) => void })) as ((v: unknown) => void) | undefined;
      } else {
        descriptor.writable = true;
        descriptor.value = value(first, (r) => Object.defineProperty(object, key, { value: r }));
      }
      Object.defineProperty(object, key, descriptor);
      // Restore the real flags once late values are in (a late value needs the property writable).
      if (!(flags & CONFIGURABLE) || (!(flags & ACCESSOR) && !(flags & WRITABLE))) {
        whenBuilt(at, () => Object.defineProperty(object, key, { configurable: !!(flags & CONFIGURABLE), ...(flags & ACCESSOR ? {} : { writable: !!(flags & WRITABLE) }) }));
      }
    }
  }

  return value(graph.root, () => undefined);
}
