import { randomBytes } from 'node:crypto';
import type { SourceForm } from '../source/sourceForm.js';
import { formatPath, type PathStep } from '../values/paths.js';
import type { RefStep } from './modules.js';

/**
 * The closure codec's wire format: a value graph, functions included, as
 * plain data. Functions, class instances and the like become nodes of a
 * table; in the data they are replaced by one-key marker objects
 * `{ [mark]: index }`. The result (data with markers, and the node table)
 * is plain enough for V8's serializer, so the data part of a payload costs
 * what structured clone costs, and shared objects and cycles keep their
 * identity for free. Each node kind's encode and decode live side by side
 * in one entry of the table in nodeKinds.ts.
 */
export interface Graph {
  mark: string;
  root: unknown;
  nodes: NodeRecord[];
}

/**
 * A property key: a string, a symbol by its well-known or registered name, or a unique symbol
 * as the marker of its node (`u`), so the key and every other use of that symbol are one symbol.
 */
export type KeyRecord = string | { w: string } | { r: string } | { u: unknown };
/** [key, flags, value] for data properties, [key, flags | ACCESSOR, getter, setter] for accessors. */
export type PropRecord = [KeyRecord, number, unknown?, unknown?];
export const ENUMERABLE = 1;
export const WRITABLE = 2;
export const CONFIGURABLE = 4;
export const ACCESSOR = 8;

export interface FunctionRecord {
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
  /** Own properties with their descriptors (static fields, `fn.cache = ...`), but what the source makes again. */
  props: PropRecord[];
  /** A class's prototype members its source does not define (assigned or defined on it later). */
  protoProps?: PropRecord[];
  /** An old-style constructor's prototype object, a node of its own (its parent's prototype by identity). */
  proto?: unknown;
  /** The function's own [[Prototype]] when a program set one (`Object.setPrototypeOf(Child, Parent)`). */
  fproto?: unknown;
  /** Class identity: a realm rebuilds a class once and reuses it, so `instanceof` holds across payloads. */
  cid?: string;
  /** The run (capture epoch) this snapshot of the class belongs to: a later run's snapshot replaces it. */
  cep?: string;
  /** A class compiled so that instances with #private fields can be rebuilt (source/brandable.ts): it or a class below it has them. */
  brand?: true;
  /** A class's own static #private fields, [name, value], as they were when it was sent: set again once it is compiled. */
  spriv?: [string, unknown][];
  /** The shared scope (a 'scope' node) that declares some of its captured variables, one binding for every function of it. */
  scope?: unknown;
  /** [script URL, 0-based line, column] of the source in the user's file: stack frames of the rebuilt function point there. */
  at?: [string, number, number];
}

export interface ObjectRecord {
  t: 'object';
  cls?: unknown;
  proto?: unknown;
  props: PropRecord[];
  /** The built-in an instance extends, and what fills its internal slots: [kind, ...contents]. */
  base?: [string, ...unknown[]];
  /** Native #private fields of the instance, [name, value]: restored by constructing its (brandable) class. */
  priv?: [string, unknown][];
  /** Object.freeze, Object.seal or Object.preventExtensions was applied: the receiver applies it last. */
  integrity?: 'frozen' | 'sealed' | 'closed';
}

/**
 * A registered (Symbol.for) or well-known symbol by name; a unique one (`Symbol('tag')`) by its
 * identity (classRegistry.ts) and description: one new symbol per id in the receiving process.
 */
export interface SymbolRecord {
  t: 'symbol';
  registered?: string;
  wellKnown?: string;
  unique?: { id: string; description: string | undefined };
}

export interface WeakRecord {
  t: 'weak';
  kind: 'WeakMap' | 'WeakSet';
  /** Its identity: every payload's entries join one collection in the receiving realm. */
  id: string;
  /** The run (capture epoch): a receiving realm keeps one collection per id and run. */
  cep: string;
  /** The entries whose keys travel in this graph, [key, value] (value undefined for a WeakSet). */
  entries: [unknown, unknown][];
}

/**
 * Bindings that several captured functions share in the main thread (one `let` that one of
 * them assigns): the receiver declares them once and compiles every one of those functions
 * inside, so a write through one is seen by the others.
 */
export interface ScopeRecord {
  t: 'scope';
  vars: Record<string, unknown>;
}

/**
 * `new ctor(def)`, then each own data property set after construction set again: on the object
 * (0) or its `_zod` (1), key, value, flags (1 writable, 2 enumerable, 4 configurable). nodes/packageBuilt.ts.
 */
export interface BuiltRecord {
  t: 'built';
  ctor: unknown;
  def: unknown;
  set?: [on: 0 | 1, key: string, value: unknown, flags: number][];
}

export type NodeRecord =
  | FunctionRecord
  | ScopeRecord
  /** A class the receiver already has (it sent it): by id only. */
  | { t: 'classref'; cid: string }
  | { t: 'bound'; target: unknown; thisArg: unknown; args: unknown[] }
  /** A module, or a value of an installed package, by reference: the worker loads `specifier` and walks `path`. */
  | { t: 'module'; specifier: string; binding: string; path?: RefStep[] }
  /** A realm's own global (Math, console, a built-in function), by its path from globalThis. */
  | { t: 'global'; path: string }
  | SymbolRecord
  /** A by-reference value (values/byReference.ts): its kind's name and the state its kind encoded. */
  | { t: 'ref'; kind: string; state: unknown }
  /** A WeakMap or WeakSet, with the entries whose keys travel (nodes/weakCollections.ts). */
  | WeakRecord
  /** An object a package's exported constructor builds from its definition (a zod schema): made again by it. */
  | BuiltRecord
  /** An Intl formatter: its constructor's name under Intl and its resolvedOptions(). */
  | { t: 'intl'; ctor: string; options: Record<string, unknown> }
  | ObjectRecord;

/** Marker key: random per process, so user data can never pass for a marker. */
export const MARK = `__jobletNode_${randomBytes(9).toString('base64url')}`;

/** A registered symbol's key, a well-known symbol's name, or undefined for a unique symbol. */
export function symbolRecord(symbol: symbol): { r: string } | { w: string } | undefined {
  const registered = Symbol.keyFor(symbol);
  if (registered !== undefined) return { r: registered };
  for (const name of Object.getOwnPropertyNames(Symbol)) {
    if ((Symbol as unknown as Record<string, unknown>)[name] === symbol) return { w: name };
  }
  return undefined;
}

/** The symbol a key record names, in this realm. */
export function symbolOf(record: { r: string } | { w: string }): symbol {
  return 'w' in record ? (Symbol as unknown as Record<string, symbol>)[record.w]! : Symbol.for(record.r);
}

/** `fn -> captured 'db' -> .pool.socket`: steps below a capture read as their own hop. */
export function pathThrough(where: string, steps: PathStep[]): string {
  if (!steps.length || !where.endsWith("'")) return formatPath(where, steps);
  return `${where} -> ${formatPath('', steps)}`;
}
