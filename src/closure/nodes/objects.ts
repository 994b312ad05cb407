import vm from 'node:vm';
import { isBuiltin } from 'node:module';
import { UnserializableValueError } from '../../serialize/types.js';
import { builtinBase, NATIVE_ERRORS, nativeTypedArrayOf } from '../../values/kinds.js';
import { RESOURCE_REMEDY } from '../../values/unsendable.js';
import { ACCESSOR, CONFIGURABLE, ENUMERABLE, pathThrough, symbolOf, symbolRecord, WRITABLE, type KeyRecord, type ObjectRecord, type PropRecord } from '../graph.js';
import type { NodeDecoder, NodeEncoder, NodeKind } from '../nodeKind.js';
import { privateState } from '../inspector.js';
import { privateInstanceMembers } from '../../source/brandable.js';
import { brandInstance } from './privateFields.js';

/**
 * Objects structured clone would flatten: class instances (their class
 * travels as a node), objects with another prototype, accessors or
 * symbol-keyed properties, and instances of built-in subclasses (a Map,
 * a typed array...), each property with its descriptor's flags.
 */
export const objectNode: NodeKind<ObjectRecord> = {
  claims: () => true,
  reduce(value: object, encoder: NodeEncoder, path: string): ObjectRecord {
    const proto = Object.getPrototypeOf(value) as object | null;
    const record: ObjectRecord = { t: 'object', props: [] };
    const ctor = proto && Object.hasOwn(proto, 'constructor') ? (proto as { constructor: unknown }).constructor : undefined;
    const base = builtinBase(value);
    if (proto === null) record.proto = null;
    // A built-in itself (a RegExp with a lastIndex): made by the receiver's own constructor.
    else if (base !== undefined && base !== 'TypedArray' && ctor === (globalThis as Record<string, unknown>)[base] && (ctor as Function).prototype === proto) {
      // nothing to record: no class, no prototype
    }
    else if (proto === Object.prototype) record.proto = 'object';
    else if (NATIVE_ERRORS.has(ctor)) record.cls = encoder.transform(ctor, `${path} -> class`);
    else if (typeof ctor === 'function' && ctor.prototype === proto) {
      const capture = encoder.capture(ctor);
      // A class an installed package exports travels by reference; Node's own are refused.
      // A user class that cannot be sent says why (its own reason), not that it is Node's.
      if (capture.kind === 'unsupported' && !capture.builtin) {
        throw new UnserializableValueError(`an instance of \`${ctor.name}\` cannot be sent: its class cannot be sent: ${capture.reason}`, path, RESOURCE_REMEDY);
      }
      if (capture.kind !== 'source' && !(capture.kind === 'module' && !isBuiltin(capture.ref.specifier))) {
        // Node's own classes (sockets, streams, URL): their state lives in native handles or private fields.
        throw new UnserializableValueError(
          `an instance of \`${ctor.name}\` cannot be sent: its class is part of Node, and its state (handles, private fields) cannot be copied`,
          path,
          RESOURCE_REMEDY,
        );
      }
      const hasPrivate = classHasPrivateMembers(ctor, encoder, path);
      record.cls = encoder.transform(ctor, `${path} -> class`);
      if (hasPrivate) record.priv = privateFieldRecords(value, ctor, record.cls, encoder, path);
    } else record.proto = encoder.node(proto, `${path} -> prototype`);
    if (base === 'Date') record.base = [base, (value as Date).getTime()];
    else if (base === 'RegExp') record.base = [base, (value as RegExp).source, (value as RegExp).flags];
    else if (base === 'Error') record.base = [base, (value as Error).message];
    else if (base === 'Map') record.base = [base, encoder.transform([...(value as Map<unknown, unknown>)], `${path} -> entries`)];
    else if (base === 'Set') record.base = [base, encoder.transform([...(value as Set<unknown>)], `${path} -> items`)];
    else if (base === 'TypedArray') {
      const native = nativeTypedArrayOf(value)!;
      record.base = [base, native.name, new (native as unknown as new (source: ArrayBufferView) => ArrayBufferView)(value as ArrayBufferView)];
    }
    // A typed array's indices are its contents, carried in `base`.
    const skip = base === 'TypedArray' ? (key: string | symbol) => typeof key === 'string' && /^\d+$/.test(key) : undefined;
    record.props = propRecords(value, encoder, path, skip);
    if (Object.isFrozen(value)) record.integrity = 'frozen';
    else if (Object.isSealed(value)) record.integrity = 'sealed';
    else if (!Object.isExtensible(value)) record.integrity = 'closed';
    return record;
  },

  make(record, decoder, at) {
    if (record.base) {
      const made = constructOnBase(record, decoder, at);
      defineProperties(made, record.props, decoder);
      applyIntegrity(made, record, decoder);
      return made;
    }
    const object: Record<string, unknown> = Object.create(null);
    // Reachable from here on: a cycle back to it (a method bound to it, a static holding it) gets it.
    decoder.provide(at, object);
    if (record.cls !== undefined) {
      const setPrototype = (cls: unknown) => Object.setPrototypeOf(object, (cls as { prototype: object }).prototype);
      const cls = decoder.value(record.cls, setPrototype);
      if (cls !== undefined) setPrototype(cls);
    } else if (record.proto === 'object') Object.setPrototypeOf(object, Object.prototype);
    else if (record.proto !== null) {
      const proto = decoder.value(record.proto, (p) => Object.setPrototypeOf(object, p as object));
      if (proto !== undefined) Object.setPrototypeOf(object, proto as object);
    }
    if (record.priv) restorePrivateFields(object, record, decoder);
    defineProperties(object, record.props, decoder);
    applyIntegrity(object, record, decoder);
    return object;
  },
};

/**
 * Give the instance its class chain's #private fields (and brand, for private methods) by
 * constructing its brandable class with the restore on; public fields the construction left
 * (as undefined) and the instance no longer had are removed, the others get their own values next.
 */
function restorePrivateFields(object: object, record: ObjectRecord, decoder: NodeDecoder): void {
  const notYet = () => {
    throw new Error('joblet: an instance whose #private fields or class refer back to it before they exist is not supported');
  };
  const cls = decoder.value(record.cls, notYet) as Function | undefined;
  if (typeof cls !== 'function') notYet();
  const fields = new Map(record.priv!.map(([name, encoded]) => [name, decoder.value(encoded, notYet)]));
  brandInstance(cls!, object, fields, 'the rebuilt instance');
  const kept = new Set(record.props.map(([key]) => key));
  for (const key of Object.getOwnPropertyNames(object)) if (!kept.has(key)) delete (object as Record<string, unknown>)[key];
}

/** Freeze, seal or close the object as the sender's was, once nothing more is assigned to it. */
function applyIntegrity(object: object, record: ObjectRecord, decoder: NodeDecoder): void {
  const { integrity } = record;
  if (!integrity) return;
  decoder.atEnd(() => void (integrity === 'frozen' ? Object.freeze(object) : integrity === 'sealed' ? Object.seal(object) : Object.preventExtensions(object)));
}

/**
 * Whether `ctor` or a class it extends has `#private` members. A package's class is refused:
 * it travels by reference, and the receiver's copy of it cannot be given the fields.
 */
function classHasPrivateMembers(ctor: Function, encoder: NodeEncoder, path: string): boolean {
  let found = false;
  for (let cls: unknown = ctor; typeof cls === 'function' && cls !== Function.prototype; cls = Object.getPrototypeOf(cls)) {
    const capture = encoder.capture(cls as Function);
    if (capture.kind === 'module' && capture.hasPrivateMembers) {
      throw new UnserializableValueError(
        `an instance of \`${ctor.name}\` cannot be sent: its class ${cls === ctor ? '' : `(through \`${(cls as Function).name}\`) `}is a package's class with #private members, which travels by reference, and no copy of the package's class can be given that state`,
        path,
        'Send the data and build the instance inside the task.',
      );
    }
    if (capture.kind === 'source' && capture.hasPrivateMembers) found = true;
  }
  return found;
}

const PRIVATE_REMEDY = 'Send the data and build the instance inside the task, or use public fields for state that must travel.';

/**
 * The instance's #private fields, read through the inspector, and every class of its chain
 * marked to be compiled brandable (source/brandable.ts): the receiver rebuilds the instance by
 * constructing its class with the restore on, which needs each class up to the root rewritten.
 */
function privateFieldRecords(value: object, ctor: Function, cls: unknown, encoder: NodeEncoder, path: string): [string, unknown][] {
  const refuse = (why: string) => new UnserializableValueError(`an instance of \`${ctor.name}\` with #private fields cannot be sent: ${why}`, path, PRIVATE_REMEDY);
  const declared = new Set<string>();
  let brands = false;
  const notClass = () => refuse('a class in its chain extends a built-in or an old-style constructor, whose construction cannot be skipped');
  for (let c: unknown = ctor, encoded = cls, step = 0; step < 64; step++) {
    const record = encoder.recordOf(encoded);
    if (record?.t === 'classref') {
      throw refuse("its class is the receiver's own (a worker returning an instance of a class the main thread sent), whose #private fields no code outside that class can set; return the data it holds");
    }
    let source: string;
    let sup: boolean;
    if (record === undefined && typeof c === 'function') {
      // A class still being encoded (the instance is one of its statics: `static instance = new
      // Config()`): its record is not made yet; its capture says the same, and its record is
      // marked brandable by its own encoding (nodes/functions.ts, a class of a chain with #private).
      const capture = encoder.capture(c);
      if (capture.kind !== 'source' || !capture.isClass) throw notClass();
      source = capture.source;
      sup = capture.superClass !== undefined;
    } else {
      if (record?.t !== 'fn' || !record.source.startsWith('class')) throw notClass();
      record.brand = true;
      source = record.source;
      sup = record.sup !== undefined;
    }
    const members = privateInstanceMembers(source);
    for (const name of members?.fields ?? []) declared.add(name);
    brands ||= members?.brands ?? false;
    if (!sup) break;
    c = Object.getPrototypeOf(c);
    encoded = record?.t === 'fn' && record.sup !== undefined ? record.sup : encoder.transform(c, `${path} -> class -> extends`);
  }
  const { fields, branded } = privateState(value);
  const names = new Set<string>();
  for (const [name] of fields) {
    if (names.has(name)) throw refuse(`two classes of its chain each have a field \`${name}\`, which the inspector does not tell apart`);
    names.add(name);
  }
  // The worker makes the instance by its class's construction, which gives it every #private
  // field and brand of the chain: an object that lacks some (made by Object.create(C.prototype),
  // or given another class's prototype) would arrive with them, and `#x in o` would differ.
  const missing = [...declared].filter((name) => !names.has(name));
  const extra = [...names].filter((name) => !declared.has(name));
  if (missing.length || extra.length || (brands && !branded && declared.size === 0)) {
    throw refuse(
      `it was not made by its class's constructor (Object.create(${ctor.name}.prototype), or Object.setPrototypeOf onto another object): ${missing.length ? `it lacks ${missing.join(', ')}` : extra.length ? `it holds ${extra.join(', ')}, which its class chain does not declare` : "it lacks its class's private methods"}, and the worker can only make it as its constructor would`,
    );
  }
  return fields.map(([name, field]) => [name, encoder.transform(field, pathThrough(path, [{ kind: 'key', key: name }]))]);
}

/** An instance of a built-in subclass, made by the built-in itself so that its internal slots exist. */
function constructOnBase(record: ObjectRecord, decoder: NodeDecoder, at: number): object {
  const value = (v: unknown) =>
    decoder.value(v, () => {
      throw new Error('joblet: an instance of a built-in subclass whose class refers back to it is not supported');
    });
  let [kind, ...contents] = record.base!;
  // A typed array names its native constructor, and carries its contents as one.
  if (kind === 'TypedArray') [kind, ...contents] = contents as [string, ...unknown[]];
  const Base = (decoder.context ? vm.runInContext(kind, decoder.context) : (globalThis as Record<string, unknown>)[kind]) as new (...a: unknown[]) => object;
  const Class = (record.cls === undefined ? Base : value(record.cls)) as Function;
  if (kind === 'Map' || kind === 'Set') {
    const made = Reflect.construct(Base, [], Class) as Map<unknown, unknown> & Set<unknown>;
    decoder.provide(at, made);
    for (const entry of value(contents[0]) as unknown[]) {
      if (kind === 'Map') made.set((entry as [unknown, unknown])[0], (entry as [unknown, unknown])[1]);
      else made.add(entry);
    }
    return made;
  }
  const made = Reflect.construct(Base, contents, Class);
  decoder.provide(at, made);
  return made;
}

/**
 * Own properties of `value` but those `skip` names, each with its descriptor's flags: the one
 * walk that carries getters, setters, non-enumerable and read-only properties, for objects and
 * for functions and their prototypes alike.
 */
export function propRecords(value: object, encoder: NodeEncoder, path: string, skip?: (key: string | symbol, descriptor: PropertyDescriptor) => boolean): PropRecord[] {
  const props: PropRecord[] = [];
  const members: [string | symbol, PropertyDescriptor, string][] = [];
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    if (skip?.(key, descriptor)) continue;
    members.push([key, descriptor, pathThrough(path, [{ kind: 'key', key: typeof key === 'string' ? key : `[${String(key)}]` }])]);
  }
  // A library instance's methods and lazy getters are counted before the first is walked into.
  encoder.countPackageCopies(members.flatMap(([, d, at]) => ('value' in d ? [[d.value, at] as const] : [[d.get, at] as const, [d.set, at] as const])));
  for (const [key, descriptor, at] of members) {
    const flags = (descriptor.enumerable ? ENUMERABLE : 0) | (descriptor.configurable ? CONFIGURABLE : 0);
    let keyRecord: KeyRecord;
    if (typeof key === 'string') keyRecord = key;
    // A unique symbol is a node: the key and every other use of it arrive as one symbol.
    else keyRecord = symbolRecord(key) ?? { u: encoder.transform(key, at) };
    if ('value' in descriptor) props.push([keyRecord, flags | (descriptor.writable ? WRITABLE : 0), encoder.transform(descriptor.value, at)]);
    else props.push([keyRecord, flags | ACCESSOR, encoder.transform(descriptor.get, at), encoder.transform(descriptor.set, at)]);
  }
  return props;
}

/**
 * Define what propRecords took. A value still being built arrives late, so each property is
 * defined writable and configurable first and gets its real flags once its value is in.
 */
export function defineProperties(object: object, props: PropRecord[], decoder: NodeDecoder): void {
  const isLate = (encoded: unknown) => {
    const target = decoder.markerOf(encoded);
    return target !== undefined && decoder.isBeingBuilt(target);
  };
  for (const [keyRecord, flags, first, second] of props) {
    const key: string | symbol =
      typeof keyRecord === 'string' ? keyRecord : 'u' in keyRecord ? (decoder.value(keyRecord.u, () => undefined) as symbol) : symbolOf(keyRecord);
    const existing = Object.getOwnPropertyDescriptor(object, key);
    if (existing && !existing.configurable) {
      // A built-in's own slot (a RegExp's lastIndex, a class's prototype): set it if it can be set.
      if (existing.writable && !(flags & ACCESSOR)) (object as Record<string | symbol, unknown>)[key] = decoder.value(first, (r) => ((object as Record<string | symbol, unknown>)[key] = r));
      continue;
    }
    const restore = () => Object.defineProperty(object, key, { configurable: !!(flags & CONFIGURABLE), ...(flags & ACCESSOR ? {} : { writable: !!(flags & WRITABLE) }) });
    const final = !(flags & CONFIGURABLE) || (!(flags & ACCESSOR) && !(flags & WRITABLE));
    let pending = (isLate(first) ? 1 : 0) + (flags & ACCESSOR && isLate(second) ? 1 : 0);
    const arrived = () => {
      if (--pending === 0 && final) restore();
    };
    const descriptor: PropertyDescriptor = { enumerable: !!(flags & ENUMERABLE), configurable: true };
    if (flags & ACCESSOR) {
      descriptor.get = decoder.value(first, (g) => (Object.defineProperty(object, key, { get: g as () => unknown }), arrived())) as (() => unknown) | undefined;
      descriptor.set = decoder.value(second, (s) => (Object.defineProperty(object, key, { set: s as (v: unknown) => void }), arrived())) as ((v: unknown) => void) | undefined;
    } else {
      descriptor.writable = true;
      descriptor.value = decoder.value(first, (r) => (Object.defineProperty(object, key, { value: r }), arrived()));
    }
    Object.defineProperty(object, key, descriptor);
    if (pending === 0 && final) restore();
  }
}
