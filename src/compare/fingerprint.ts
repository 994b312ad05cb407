import { createHash } from 'node:crypto';
import { types } from 'node:util';
import { captureFunction } from '../closure/capture.js';
import { describeFunction } from '../source/functionSource.js';
import { formatStep } from '../values/paths.js';
import { unwrap } from '../serialize/wrap.js';

/**
 * A structural description of a value graph, made the same way on both sides
 * of a round trip: of the original in the main thread, of the rebuilt value
 * in the worker that rebuilt it. Comparing two of them (differences.ts) says
 * what the trip changed. It is plain data, so it crosses postMessage.
 *
 * Objects are numbered nodes and referred to by number, so identity (shared
 * references, cycles) is part of the description. Getters are described,
 * never called. A function is described by what it is made of: its source
 * and the current values of the variables it captures, read through the
 * inspector (closure/capture.ts) in the realm the function lives in. That is
 * what makes a lost capture visible: in the worker, a function rebuilt from
 * source alone has no scope holding the variable.
 */
export interface Fingerprint {
  root: Print;
  nodes: NodePrint[];
}

/** One value: a primitive in place, an object by its node number. */
export type Print =
  | { t: 'undefined' }
  | { t: 'null' }
  | { t: 'boolean'; v: boolean }
  | { t: 'number'; v: number }
  | { t: 'string'; v: string }
  | { t: 'bigint'; v: string }
  | { t: 'symbol'; v: string }
  /** A missing element of a sparse array. */
  | { t: 'hole' }
  /** An accessor property: its getter and setter, not the value the getter would give. */
  | { t: 'accessor'; get: Print | undefined; set: Print | undefined }
  | { t: 'node'; id: number };

export interface PropPrint {
  /** The key as a path step: `.name`, `["a b"]`, `[Symbol(tag)]`. */
  step: string;
  /** The key as a list of keys shows it: `name`, `a b`, `[Symbol(tag)]`. */
  key: string;
  value: Print;
}

export interface CapturePrint {
  name: string;
  /** The captured value; undefined for an import, which travels by reference and is compared by presence only. */
  value: Print | undefined;
  /** The module an import comes from. */
  module?: string;
}

export interface FunctionPrint {
  /** How the function can be rebuilt: from its source, as a bound function, a global, a module export; or why it cannot be read. */
  how: 'source' | 'bound' | 'global' | 'module' | 'unreadable';
  name: string;
  isClass: boolean;
  source: string | undefined;
  captures: CapturePrint[];
  /** A global's path, a module export's specifier, or why the captures could not be read. */
  note: string | undefined;
  /** An arrow's lexical `this`, or a bound function's `this`. */
  thisValue: Print | undefined;
  boundTarget: Print | undefined;
  boundArgs: Print[] | undefined;
  /** The parent of a class that `extends` another. */
  parent: Print | undefined;
}

export interface NodePrint {
  /** What it is, as messages name it: 'object', 'array', 'function', 'Date', 'Map', 'Float64Array', 'Error', 'Proxy', ... */
  kind: string;
  /** Name of its prototype's constructor: 'Object', 'Array', 'Point'; 'null' for no prototype. */
  proto: string;
  /** Contents compared as text: a date's time, a RegExp, a binary view's length and digest, an Error's message. */
  content: string | undefined;
  /** Own enumerable properties (not the elements of arrays and typed arrays). */
  props: PropPrint[];
  /** Array elements and Set items, in order. */
  items: Print[] | undefined;
  /** Map entries, in order. */
  entries: [Print, Print][] | undefined;
  fn: FunctionPrint | undefined;
  /** The class of a class instance, so that what its methods capture is compared too. */
  cls: Print | undefined;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function symbolText(symbol: symbol): string {
  const registered = Symbol.keyFor(symbol);
  return registered === undefined ? String(symbol) : `Symbol.for(${registered})`;
}

function keyStep(key: string | symbol): string {
  if (typeof key === 'symbol') return `[${symbolText(key)}]`;
  return IDENTIFIER.test(key) ? `.${key}` : formatStep({ kind: 'key', key });
}

/** The name of an object's prototype, read from own data properties only (no getter runs). */
function protoName(value: object): { name: string; ctor: Function | undefined } {
  const proto: object | null = Object.getPrototypeOf(value);
  if (proto === null) return { name: 'null', ctor: undefined };
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  if (typeof ctor !== 'function') return { name: 'anonymous', ctor: undefined };
  return { name: ctor.name || 'anonymous', ctor };
}

function digest(view: ArrayBufferView | ArrayBuffer | SharedArrayBuffer): string {
  const bytes = ArrayBuffer.isView(view) ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array(view);
  return createHash('sha1').update(bytes).digest('base64url').slice(0, 12);
}

/** The built-in's own tag ('Float64Array', 'WeakMap', ...): V8 answers it whatever the realm. */
const tagOf = (value: object) => Object.prototype.toString.call(value).slice(8, -1);

/** Describe `value` and everything it reaches, captured variables of its functions included. */
export function fingerprint(value: unknown): Fingerprint {
  const nodes: NodePrint[] = [];
  const ids = new Map<object, number>();
  // Objects are numbered when first met and described from this queue, not by recursion:
  // a long linked list must not overflow the stack.
  const queue: object[] = [];

  const print = (v: unknown): Print => {
    switch (typeof v) {
      case 'undefined':
        return { t: 'undefined' };
      case 'boolean':
        return { t: 'boolean', v };
      case 'number':
        return { t: 'number', v };
      case 'string':
        return { t: 'string', v };
      case 'bigint':
        return { t: 'bigint', v: v.toString() };
      case 'symbol':
        return { t: 'symbol', v: symbolText(v) };
    }
    if (v === null) return { t: 'null' };
    // A value marked with wrapNonSerializable is its target: the mark is how it travels, not what it is.
    const object = unwrap(v as object);
    let id = ids.get(object);
    if (id === undefined) {
      id = ids.size;
      ids.set(object, id);
      queue.push(object);
    }
    return { t: 'node', id };
  };

  const ownProps = (object: object): PropPrint[] => {
    const props: PropPrint[] = [];
    for (const key of Reflect.ownKeys(object)) {
      const descriptor = Object.getOwnPropertyDescriptor(object, key);
      if (!descriptor?.enumerable) continue;
      const value: Print =
        'value' in descriptor
          ? print(descriptor.value)
          : { t: 'accessor', get: descriptor.get && print(descriptor.get), set: descriptor.set && print(descriptor.set) };
      props.push({ step: keyStep(key), key: typeof key === 'symbol' ? `[${symbolText(key)}]` : key, value });
    }
    return props;
  };

  const describe = (object: object): NodePrint => {
    const node: NodePrint = { kind: 'object', proto: 'Object', content: undefined, props: [], items: undefined, entries: undefined, fn: undefined, cls: undefined };
    // A Proxy runs its traps on every read: it is named, not entered.
    if (types.isProxy(object)) return { ...node, kind: 'Proxy', proto: '' };
    const { name, ctor } = protoName(object);
    node.proto = name;
    // The class of an instance (not a built-in such as Date or Object): its methods may capture variables too.
    if (ctor && typeof object !== 'function' && describeFunction(ctor).kind !== 'global') node.cls = print(ctor);
    if (typeof object === 'function') {
      node.kind = 'function';
      node.fn = describeFunctionPrint(object as Function, print);
      node.props = ownProps(object);
    } else if (Array.isArray(object)) {
      // Elements only: other keys on an array are rare, and listing the keys of a large one is costly.
      node.kind = 'array';
      const items: Print[] = new Array(object.length);
      for (let i = 0; i < object.length; i++) items[i] = i in object ? print(object[i]) : { t: 'hole' };
      node.items = items;
    } else if (types.isDate(object)) {
      node.kind = 'Date';
      const time = Date.prototype.getTime.call(object);
      node.content = Number.isNaN(time) ? 'Invalid Date' : new Date(time).toISOString();
      node.props = ownProps(object);
    } else if (types.isRegExp(object)) {
      node.kind = 'RegExp';
      const regexp = object as RegExp;
      node.content = `/${regexp.source}/${regexp.flags}`;
      node.props = ownProps(object);
    } else if (types.isMap(object)) {
      node.kind = 'Map';
      node.entries = [...Map.prototype.entries.call(object)].map(([k, v]) => [print(k), print(v)]);
      node.props = ownProps(object);
    } else if (types.isSet(object)) {
      node.kind = 'Set';
      node.items = [...Set.prototype.values.call(object)].map(print);
      node.props = ownProps(object);
    } else if (types.isNativeError(object) || object instanceof Error) {
      node.kind = 'Error';
      const message = Object.getOwnPropertyDescriptor(object, 'message')?.value as unknown;
      node.content = typeof message === 'string' ? message : '';
      node.props = ownProps(object);
    } else if (ArrayBuffer.isView(object) || types.isAnyArrayBuffer(object)) {
      node.kind = tagOf(object);
      node.content = `${(object as ArrayBuffer).byteLength} bytes, digest ${digest(object as ArrayBuffer)}`;
    } else if (types.isPromise(object) || types.isWeakMap(object) || types.isWeakSet(object) || tagOf(object) === 'WeakRef') {
      node.kind = tagOf(object);
    } else if (types.isBoxedPrimitive(object)) {
      node.kind = `${tagOf(object)} object`;
      node.content = String((object as { valueOf(): unknown }).valueOf());
    } else {
      node.props = ownProps(object);
    }
    return node;
  };

  const root = print(value);
  // Nodes are described in numbering order, so `nodes[id]` is node `id`.
  for (let at = 0; at < queue.length; at++) nodes.push(describe(queue[at]!));
  return { root, nodes };
}

function describeFunctionPrint(fn: Function, print: (v: unknown) => Print): FunctionPrint {
  const out: FunctionPrint = {
    how: 'unreadable',
    name: fn.name,
    isClass: false,
    source: undefined,
    captures: [],
    note: undefined,
    thisValue: undefined,
    boundTarget: undefined,
    boundArgs: undefined,
    parent: undefined,
  };
  let capture: ReturnType<typeof captureFunction>;
  try {
    capture = captureFunction(fn);
  } catch (error) {
    return { ...out, note: error instanceof Error ? error.message : String(error) };
  }
  switch (capture.kind) {
    case 'source':
      return {
        ...out,
        how: 'source',
        isClass: capture.isClass,
        source: Function.prototype.toString.call(fn),
        captures: [
          ...[...capture.values].map(([name, value]) => ({ name, value: print(value) })),
          ...[...capture.modules].map(([name, ref]) => ({ name, value: undefined, module: ref.specifier })),
        ],
        thisValue: capture.lexicalThis && print(capture.lexicalThis.value),
        parent: capture.superClass && print(capture.superClass.value),
      };
    case 'bound':
      return { ...out, how: 'bound', thisValue: print(capture.thisArg), boundTarget: print(capture.target), boundArgs: capture.args.map(print) };
    case 'global':
      return { ...out, how: 'global', note: capture.path };
    case 'module':
      return { ...out, how: 'module', note: `${capture.ref.specifier} ${capture.ref.binding}` };
    case 'unsupported':
      return { ...out, note: capture.reason };
  }
}
