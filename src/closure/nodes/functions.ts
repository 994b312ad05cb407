import { UnserializableValueError } from '../../serialize/types.js';
import { RESOURCE_REMEDY } from '../../values/unsendable.js';
import { classIdOf, classRegistry, knownClassId, noteReceivedClass, peerHoldsClass } from '../classRegistry.js';
import type { FunctionRecord, NodeRecord, ScopeRecord } from '../graph.js';
import { loadModuleRef } from '../modules.js';
import { inPackage, packageObjectRef, packageRoute } from '../packages.js';
import type { NodeDecoder, NodeEncoder, NodeKind } from '../nodeKind.js';
import { compile, compileScope, type SharedScope } from './compileFunction.js';
import { defineProperties, propRecords } from './objects.js';
import { staticSetters } from './privateFields.js';
import { privateFields } from '../inspector.js';
import { pathThrough } from '../graph.js';
import { types } from 'node:util';

/**
 * Functions: by source with their captured variables ('fn'), by class id
 * when the receiver has the class ('classref'), bound functions ('bound'),
 * and module exports by reference ('module'). One reduce takes a function
 * apart; what it finds decides the record.
 */

export const functionNode: NodeKind<FunctionRecord> = {
  claims: (value) => typeof value === 'function',
  reduce(fn: Function, encoder: NodeEncoder, path: string): NodeRecord {
    const knownId = knownClassId(fn);
    if (knownId !== undefined && peerHoldsClass(knownId)) {
      // The peer has the class, and the weak collections it captures (its downlevelled #private
      // state): they travel by id, and the entries of the instances sent join them there.
      const known = encoder.capture(fn);
      if (known.kind === 'source') {
        for (const [name, captured] of known.values) {
          if (captured instanceof WeakMap || captured instanceof WeakSet) encoder.transform(captured, `${path} -> captured '${name}'`);
        }
      }
      return { t: 'classref', cid: knownId };
    }
    // A package's function travels as the reference that reaches it, without a capture; one no
    // export reaches is copied, within a budget counted before its capture.
    const route = packageRoute(fn);
    if (route && 'ref' in route) {
      encoder.packageReference(path);
      return { t: 'module', ...route.ref };
    }
    if (route) encoder.copyFromPackage(fn, route.copy, path);
    // What a copied package function reaches counts against the same budget: a library instance reaches hundreds.
    return route ? encoder.withinPackageCopy(() => recordOf(fn, encoder, path)) : recordOf(fn, encoder, path);
  },

  make(record, decoder, at) {
    const registry = record.cid === undefined ? undefined : classRegistry(decoder.context);
    const known = record.cid === undefined ? undefined : registry!.get(record.cid);
    // The defining realm's own class, or this run's snapshot already rebuilt: reuse it.
    if (known && (known.epoch === '*' || known.epoch === record.cep)) return known.cls;
    const early: Record<string, unknown> = {};
    const late: [string, number][] = [];
    const subclasses: string[] = [];
    for (const [name, captured] of Object.entries(record.vars)) {
      const target = decoder.markerOf(captured);
      if (target !== undefined && decoder.isBeingBuilt(target)) late.push([name, target]);
      // A subclass of this very class (a factory in the parent) needs it built first: made once this one exists.
      else if (target !== undefined && extendsNode(decoder, target, at)) subclasses.push(name);
      else early[name] = decoder.value(captured, () => undefined);
    }
    const sup = record.sup === undefined ? undefined : decoder.value(record.sup, () => undefined);
    const self = record.self === undefined ? undefined : decoder.value(record.self, () => undefined);
    // Its shared scope exists before any function of it is compiled (the scope node provides itself first).
    const scope = record.scope === undefined ? undefined : (decoder.value(record.scope, () => undefined) as SharedScope | undefined);
    if (record.scope !== undefined && !scope) throw new Error('joblet: a shared scope was not made before its function');
    const [fn, setLate] = compile(record, early, sup, self, decoder.context, scope);
    if (record.cid !== undefined) noteReceivedClass(fn, record.cid, record.cep ?? '', decoder.context);
    for (const [name, target] of late) decoder.whenBuilt(target, () => setLate(name, decoder.built(target)));
    const holder = fn as unknown as { prototype: unknown };
    // The prototype before anyone else can reach the function: an instance made from it needs the real one.
    if (record.proto !== undefined) {
      const prototype = decoder.value(record.proto, (late) => (holder.prototype = late));
      if (prototype !== undefined) holder.prototype = prototype;
    }
    decoder.provide(at, fn);
    for (const name of subclasses) {
      const subclass = decoder.value(record.vars[name], (made) => setLate(name, made));
      if (subclass !== undefined) setLate(name, subclass);
    }
    if ('fproto' in record) {
      const parent = decoder.value(record.fproto, (late) => Object.setPrototypeOf(fn, late as object));
      if (parent !== undefined || record.fproto === undefined) Object.setPrototypeOf(fn, parent as object);
    }
    defineProperties(fn, record.props, decoder);
    if (record.spriv) setStaticPrivateFields(fn, record.spriv, decoder);
    if (record.protoProps) defineProperties(holder.prototype as object, record.protoProps, decoder);
    return fn;
  },
};

/** `cls` or a class it extends (by source) declares #private members. */
function chainHasPrivateMembers(cls: Function, encoder: NodeEncoder): boolean {
  for (let c: unknown = cls, step = 0; typeof c === 'function' && c !== Function.prototype && step < 64; c = Object.getPrototypeOf(c), step++) {
    const capture = encoder.capture(c as Function);
    if (capture.kind === 'source' && capture.hasPrivateMembers) return true;
  }
  return false;
}

/** A rebuilt class's static #private fields, set to the values that travelled (one still being built is set once it exists). */
function setStaticPrivateFields(cls: Function, fields: [string, unknown][], decoder: NodeDecoder): void {
  const setters = staticSetters.get(cls);
  for (const [name, encoded] of fields) {
    const set = setters?.[name];
    if (!set) throw new Error(`joblet: the class \`${cls.name}\` was rebuilt without a way to set its static #private field ${name}`);
    set(decoder.value(encoded, (late) => set(late)));
  }
}

/** The record of a function no reference reaches, from its capture. */
function recordOf(fn: Function, encoder: NodeEncoder, path: string): NodeRecord {
  const capture = encoder.capture(fn);
  switch (capture.kind) {
    case 'unsupported': {
      const error = new UnserializableValueError(`function \`${capture.name}\` cannot be sent: ${capture.reason}`, path, RESOURCE_REMEDY);
      throw capture.package === undefined ? error : inPackage(error, capture.package, capture.name, (m, p, r) => new UnserializableValueError(m, p, r));
    }
    case 'global':
      return { t: 'global', path: capture.path };
    case 'module':
      return { t: 'module', ...capture.ref };
    case 'bound':
      return {
        t: 'bound',
        target: encoder.transform(capture.target, `${path} -> bound target`),
        thisArg: encoder.transform(capture.thisArg, `${path} -> bound this`),
        args: encoder.transform(capture.args, `${path} -> bound arguments`) as unknown[],
      };
    case 'source': {
      const vars: Record<string, unknown> = {};
      encoder.countPackageCopies([...capture.values].map(([name, value]) => [value, `${path} -> captured '${name}'`] as const));
      try {
        for (const [name, captured] of capture.values) {
          const at = `${path} -> captured '${name}'`;
          vars[name] = encoder.transform(captured, at);
        }
      } catch (error) {
        if (capture.package === undefined || !(error instanceof UnserializableValueError)) throw error;
        throw inPackage(error, capture.package, capture.name, (m, p, r) => new UnserializableValueError(m, p, r));
      }
      for (const [name, ref] of capture.modules) {
        vars[name] = encoder.marker(`module:${ref.specifier}#${ref.binding}`, () => ({ t: 'module', specifier: ref.specifier, binding: ref.binding }));
      }
      const record: FunctionRecord = {
        t: 'fn',
        name: capture.name,
        source: capture.source,
        form: capture.form,
        strict: capture.strict,
        vars,
        props: [],
      };
      if (capture.origin) record.at = [capture.origin.url, capture.origin.line, capture.origin.column];
      if (capture.lexicalThis) record.self = encoder.transform(capture.lexicalThis.value, `${path} -> this`);
      if (capture.superClass) record.sup = encoder.transform(capture.superClass.value, `${path} -> extends`);
      // What the source makes again (a class's own methods) stays out; what was added or set on it travels.
      const fromSource = (key: string | symbol, descriptor: PropertyDescriptor) =>
        (capture.isClass ? CLASS_OWN : FUNCTION_OWN).has(key) || (capture.isClass && definedInSource(descriptor, capture.source));
      record.props = propRecords(fn, encoder, path, fromSource);
      const prototype = (fn as { prototype?: unknown }).prototype;
      if (capture.isClass) {
        const added = propRecords(prototype as object, encoder, `${path}.prototype`, (key, descriptor) => key === 'constructor' || definedInSource(descriptor, capture.source));
        if (added.length) record.protoProps = added;
      } else if (typeof prototype === 'object' && prototype !== null && !types.isGeneratorFunction(fn) && !isDefaultPrototype(fn, prototype)) {
        // An old-style class: its prototype whole (getters, non-enumerable members, the parent's prototype by identity).
        record.proto = encoder.node(prototype, `${path}.prototype`);
      }
      // `Object.setPrototypeOf(Child, Parent)` (tsc's __extends): statics are inherited through it.
      const own = Object.getPrototypeOf(fn) as unknown;
      if (!capture.isClass && !FUNCTION_PROTOTYPES.has(own)) record.fproto = encoder.transform(own, `${path} -> [[Prototype]]`);
      // Its instances may carry #private fields: compiled so that they can be restored (an instance marks its parents too).
      // A class of a chain with #private members: its instances may be rebuilt (even one met while
      // this record is being made, a static holding an instance), so it is compiled brandable.
      if (capture.isClass && chainHasPrivateMembers(fn, encoder)) record.brand = true;
      if (capture.isClass && capture.hasPrivateMembers) {
        // Its static #private fields as they are now (a `static #count` the program changed): the
        // worker's copy of the class would otherwise hold what its initialisers make again.
        const statics = privateFields(fn);
        if (statics.length) record.spriv = statics.map(([name, value]) => [name, encoder.transform(value, pathThrough(path, [{ kind: 'key', key: name }]))]);
      }
      if (capture.isClass || record.proto !== undefined) {
        record.cid = classIdOf(fn);
        record.cep = encoder.epoch;
      }
      return record;
    }
  }
}

// Own properties every function of its kind has, made by compiling it.
const FUNCTION_OWN = new Set<string | symbol>(['length', 'name', 'prototype', 'arguments', 'caller']);
const CLASS_OWN = new Set<string | symbol>(['length', 'name', 'prototype']);
// The [[Prototype]] a function has unless a program set another.
const FUNCTION_PROTOTYPES = new Set<unknown>([
  Function.prototype,
  Object.getPrototypeOf(async function () {}),
  Object.getPrototypeOf(function* () {}),
  Object.getPrototypeOf(async function* () {}),
]);

/** A member the class's source defines (a method, an accessor): compiling the source makes it again. */
function definedInSource(descriptor: PropertyDescriptor, source: string): boolean {
  const inSource = (f: unknown) => f === undefined || (typeof f === 'function' && source.includes(Function.prototype.toString.call(f)));
  return 'value' in descriptor ? typeof descriptor.value === 'function' && inSource(descriptor.value) : inSource(descriptor.get) && inSource(descriptor.set);
}

/** The prototype object a function is born with: only its own `constructor`, on Object.prototype. */
function isDefaultPrototype(fn: Function, prototype: object): boolean {
  if (Object.getPrototypeOf(prototype) !== Object.prototype) return false;
  const keys = Reflect.ownKeys(prototype);
  if (keys.length !== 1 || keys[0] !== 'constructor') return false;
  const descriptor = Object.getOwnPropertyDescriptor(prototype, 'constructor')!;
  return descriptor.value === fn && !descriptor.enumerable && !!descriptor.writable && !!descriptor.configurable;
}

/** Node `target` is a class whose parent chain (through `extends` or [[Prototype]]) reaches node `at`. */
function extendsNode(decoder: NodeDecoder, target: number, at: number): boolean {
  for (let step = 0, next: number | undefined = target; next !== undefined && step < 64; step++) {
    const record = decoder.recordAt(next);
    if (record.t !== 'fn') return false;
    next = decoder.markerOf(record.sup ?? record.fproto);
    if (next === at) return true;
  }
  return false;
}

export const classRefNode: NodeKind<{ t: 'classref'; cid: string }> = {
  make(record, decoder) {
    const known = classRegistry(decoder.context).get(record.cid);
    if (!known) throw new Error(`joblet: class ${record.cid} is not known in this realm any more`);
    return known.cls;
  },
};

export const boundNode: NodeKind<{ t: 'bound'; target: unknown; thisArg: unknown; args: unknown[] }> = {
  make(record, decoder) {
    const target = decoder.value(record.target, () => {
      throw new Error('joblet: a bound function whose target refers back to it is not supported');
    }) as Function;
    // bind() takes its this and arguments now: one that is not made yet would be bound as undefined.
    const notYet = () => {
      throw new Error('joblet: a bound function whose this or arguments refer back to it before they exist is not supported');
    };
    return target.bind(decoder.value(record.thisArg, notYet), ...(decoder.value(record.args, notYet) as unknown[]));
  },
};

/**
 * A module, or a value an installed package's exports reach by a property path (an object here; a
 * function's reference comes from its capture): the worker loads the same module file and walks
 * the same path, so nothing of the package is copied.
 */
export const moduleNode: NodeKind<{ t: 'module'; specifier: string; binding: string; path?: string[] }> = {
  claims: (value) => typeof value === 'object' && packageObjectRef(value) !== undefined,
  reduce: (value: object): NodeRecord => ({ t: 'module', ...packageObjectRef(value)! }),
  make: (record) => loadModuleRef(record),
};

/**
 * Bindings several functions share (a `let` one of them assigns): declared once, then every
 * function of the scope is compiled inside it. The scope is reachable before its values are
 * set, so a value that holds one of its own functions (a cycle) finds it.
 */
export const scopeNode: NodeKind<ScopeRecord> = {
  make(record, decoder, at) {
    const scope = compileScope(Object.keys(record.vars), decoder.context);
    decoder.provide(at, scope);
    for (const [name, encoded] of Object.entries(record.vars)) scope.set(name, decoder.value(encoded, (late) => scope.set(name, late)));
    return scope;
  },
};
