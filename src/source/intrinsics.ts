import { languageGlobalNames, nodeGlobalNames } from './globals.js';

/**
 * Every realm has its own built-ins: `Object.prototype.hasOwnProperty`,
 * `Array.prototype.slice`, the getter of `Map.prototype.size`. Such a value,
 * held in a variable (lodash keeps `hasOwnProperty = objectProto.hasOwnProperty`
 * at module level), travels as its path from `globalThis` and is looked up
 * again in the receiver's realm. The map is by identity, so a user function
 * that merely has a built-in's name is never taken for it.
 *
 * A path is dot-separated steps from `globalThis`: a property name, `<proto>`
 * for the object's prototype (`Uint8Array.<proto>.prototype.subarray`, the
 * shared %TypedArray%), or a name ending `#get` / `#set` for an accessor's
 * function (`Map.prototype.size#get`).
 */

const PROTO = '<proto>';
/** Steps from a global: `Array.prototype.slice` is 3, `Uint8Array.<proto>.prototype.set` 4. */
const MAX_DEPTH = 4;

// Built on first use: a walk of every built-in costs about a millisecond that a worker never pays.
let paths: Map<unknown, string> | undefined;

/** The path of a realm's own built-in value (function or object), or undefined. */
export function intrinsicPath(value: unknown): string | undefined {
  paths ??= buildPaths();
  return paths.get(value);
}

/** Every built-in value that has a path (a weak collection's entry keyed by one travels: the receiver has its own). */
export function intrinsicValues(): Iterable<unknown> {
  paths ??= buildPaths();
  return paths.keys();
}

function isObjectLike(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function buildPaths(): Map<unknown, string> {
  const found = new Map<unknown, string>();
  const root = globalThis as Record<string, unknown>;
  // Breadth first, so each value keeps its shortest path (Array.prototype.values, not a longer alias).
  let level: [object, string][] = [];
  const note = (value: unknown, path: string, deeper: boolean) => {
    if (!isObjectLike(value) || found.has(value)) return;
    found.set(value, path);
    if (deeper) level.push([value, path]);
  };
  for (const name of languageGlobalNames()) {
    if (name === 'globalThis') continue;
    note(readOwn(root, name), name, true);
  }
  // Node's own globals: the value and its own functions (console.log), no deeper (process.env is state, not a built-in).
  for (const name of nodeGlobalNames) {
    if (name === 'global' || name === 'globalThis') continue;
    const value = readOwn(root, name);
    if (typeof value === 'function') note(value, name, true);
    else if (isObjectLike(value)) {
      note(value, name, false);
      for (const key of Object.getOwnPropertyNames(value)) {
        // A data property only: a getter of `process` may warn (process._channel is deprecated) or do work.
        const member = Object.getOwnPropertyDescriptor(value, key)?.value as unknown;
        if (typeof member === 'function') note(member, `${name}.${key}`, false);
      }
    }
  }
  for (let depth = 1; depth < MAX_DEPTH && level.length; depth++) {
    const current = level;
    level = [];
    for (const [holder, path] of current) {
      const proto = Object.getPrototypeOf(holder) as unknown;
      if (proto !== Object.prototype && proto !== Function.prototype) note(proto, `${path}.${PROTO}`, true);
      for (const key of Object.getOwnPropertyNames(holder)) {
        const descriptor = Object.getOwnPropertyDescriptor(holder, key);
        if (!descriptor) continue;
        if ('value' in descriptor) note(descriptor.value, `${path}.${key}`, true);
        else {
          note(descriptor.get, `${path}.${key}#get`, false);
          note(descriptor.set, `${path}.${key}#set`, false);
        }
      }
    }
  }
  return found;
}

/** A property read that a throwing getter cannot break. */
function readOwn(holder: object, key: string): unknown {
  try {
    return (holder as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** The value at `path` in the realm whose global object is `root` (this realm's by default). */
export function resolveIntrinsic(path: string, root: object = globalThis): unknown {
  let value: unknown = root;
  for (const step of path.split('.')) {
    if (!isObjectLike(value)) {
      value = undefined;
      break;
    }
    if (step === PROTO) value = Object.getPrototypeOf(value);
    else if (step.endsWith('#get') || step.endsWith('#set')) {
      const descriptor = Object.getOwnPropertyDescriptor(value, step.slice(0, -4));
      value = step.endsWith('#get') ? descriptor?.get : descriptor?.set;
    } else value = (value as Record<string, unknown>)[step];
  }
  if (value === undefined) throw new Error(`globalThis.${path} does not exist in this realm`);
  return value;
}
