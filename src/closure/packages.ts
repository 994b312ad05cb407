import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { types } from 'node:util';
import { boundPartsOf, functionInternals, scopeObjectsOf, scriptUrl } from './inspector.js';
import { requiredRefOf, type ModuleRef, type RefStep } from './modules.js';

/**
 * Values that belong to an installed package travel by reference to it, as
 * cloudpickle sends what an importable module holds: a function, class or
 * object reachable by a short property path from the exports of one of the
 * package's loaded modules travels as (module file, property path), and the
 * worker loads that file and walks the same path. Nothing of the package is
 * copied, and a capture stops where it reaches the package.
 *
 * The index of a package is built once, the first time a value defined in
 * it is met, by a bounded walk of its modules' exports (data properties
 * only: a getter is never run). It also notes the weak collections the
 * package exposes, so that an object sent by value that one of them holds
 * (state a package keeps keyed by the instance, which no copy carries) is
 * refused rather than arriving without it.
 */

/** An installed package: its folder and its name. */
export interface PackageInfo {
  root: string;
  name: string;
}

/** How far below a module's exports the index looks (`z.string` is 2 from zod's entry, `_.memoize` 1). */
const DEPTH = 3;
/** At most this many values per package, so indexing a large library stays bounded. */
const BUDGET = 50_000;

const requireHere = createRequire(import.meta.url);

/** The installed package a file belongs to, or undefined outside node_modules. */
export function packageOf(file: string): PackageInfo | undefined {
  const at = file.lastIndexOf('/node_modules/');
  if (at < 0) return undefined;
  const rest = file.slice(at + '/node_modules/'.length).split('/');
  const parts = rest[0]?.startsWith('@') ? rest.slice(0, 2) : rest.slice(0, 1);
  if (parts.length === 0 || parts.some((p) => !p) || parts.length === rest.length) return undefined;
  return { root: file.slice(0, at + '/node_modules/'.length) + parts.join('/'), name: parts.join('/') };
}

interface PackageIndex {
  name: string;
  refs: Map<unknown, ModuleRef>;
  /** WeakMaps and WeakSets reachable from the exports: state the package keeps about objects. */
  weak: (WeakMap<object, unknown> | WeakSet<object>)[];
  /** Module files already walked. */
  files: Set<string>;
  size: number;
  /** Functions the index reaches whose scope chains are not read yet (the walk through scopes resumes here). */
  scopeQueue: [Function, ModuleRef][];
  /** Scope chains read so far. */
  scopeReads: number;
}

const indices = new Map<string, PackageIndex>();
/** Every package's refs together, for objects (which carry no location). */
const allRefs = new Map<unknown, ModuleRef>();
const fileOfFunction = new WeakMap<Function, string | null>();

/** The file that defines a function (absolute path), or undefined for native code and non-file scripts. */
export function definingFile(fn: Function): string | undefined {
  let file = fileOfFunction.get(fn);
  if (file === undefined) {
    // The handle is kept until the next release (the capture that usually follows reuses it; the encoder releases at its end).
    const location = functionInternals(fn).internals.location;
    const url = location ? scriptUrl(location.scriptId) : '';
    file = url.startsWith('file:') ? decodeURIComponent(new URL(url).pathname) : null;
    fileOfFunction.set(fn, file);
  }
  return file ?? undefined;
}

/**
 * A module's exports in this process without loading anything new: a CommonJS module from
 * require's cache, an ES module through require (Node 20.19+ returns the namespace the import
 * loaded). `esm`: the file is known to be loaded as an ES module.
 */
function loadedExports(file: string, esm: boolean): unknown {
  const cached = requireHere.cache[file];
  if (cached) return cached.exports;
  if (!esm) return undefined;
  try {
    return requireHere(file);
  } catch {
    return undefined;
  }
}

/** The package's main entry as `import` resolves it (exports '.', with the node/import/default conditions), else `main`. */
function importEntry(root: string): string | undefined {
  let manifest: { exports?: unknown; main?: string };
  try {
    manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as typeof manifest;
  } catch {
    return undefined;
  }
  const pick = (target: unknown): string | undefined => {
    if (typeof target === 'string') return target;
    if (Array.isArray(target)) return target.map(pick).find((t) => t !== undefined);
    if (target && typeof target === 'object') {
      const conditions = target as Record<string, unknown>;
      if (Object.keys(conditions).some((k) => k.startsWith('.'))) return pick(conditions['.']);
      for (const [condition, value] of Object.entries(conditions)) {
        if (condition === 'node' || condition === 'import' || condition === 'default') {
          const found = pick(value);
          if (found !== undefined) return found;
        }
      }
    }
    return undefined;
  };
  const entry = manifest.exports !== undefined ? pick(manifest.exports) : manifest.main;
  return entry === undefined ? undefined : join(root, entry);
}

/** Walk a module's exports breadth first (shortest paths first), noting each object or function by its path. */
function walkExports(index: PackageIndex, file: string, exports: unknown): void {
  if (index.files.has(file)) return;
  index.files.add(file);
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null) return;
  let level: [unknown, string[]][] = [[exports, []]];
  for (let depth = 0; depth <= DEPTH && level.length; depth++) {
    const next: [unknown, string[]][] = [];
    for (const [value, path] of level) {
      if (index.refs.has(value)) continue;
      const ref: ModuleRef = { specifier: file, binding: 'module', path };
      index.refs.set(value, ref);
      if (!allRefs.has(value)) allRefs.set(value, ref);
      if (typeof value === 'function') index.scopeQueue.push([value, ref]);
      if (++index.size > BUDGET) return;
      if (value instanceof WeakMap || value instanceof WeakSet) {
        index.weak.push(value);
        continue;
      }
      if (depth === DEPTH || types.isProxy(value)) continue;
      let keys: string[];
      try {
        keys = Object.getOwnPropertyNames(value);
      } catch {
        continue;
      }
      for (const key of keys) {
        let descriptor: PropertyDescriptor | undefined;
        try {
          // A namespace's binding still in its temporal dead zone throws here.
          descriptor = Object.getOwnPropertyDescriptor(value, key);
        } catch {
          continue;
        }
        const member = descriptor && 'value' in descriptor ? descriptor.value : undefined;
        if ((typeof member === 'function' || (typeof member === 'object' && member !== null)) && !index.refs.has(member)) {
          next.push([member, [...path, key]]);
        }
      }
    }
    level = next;
  }
}

/** The index of `pkg`, extended with `file`'s exports (a module of it that is known to be loaded). */
function indexOf(pkg: PackageInfo, file: string | undefined): PackageIndex {
  let index = indices.get(pkg.root);
  if (!index) {
    index = { name: pkg.name, refs: new Map(), weak: [], files: new Set(), size: 0, scopeQueue: [], scopeReads: 0 };
    indices.set(pkg.root, index);
    // Every CommonJS module of the package already required.
    const prefix = `${pkg.root}/`;
    for (const [path, module] of Object.entries(requireHere.cache)) if (path.startsWith(prefix) && module) walkExports(index, path, module.exports);
  }
  if (file && !index.files.has(file)) {
    const esm = !requireHere.cache[file];
    walkExports(index, file, loadedExports(file, esm));
    // The package's entry, when it is an ES module the defining file belongs to (the same build).
    const entry = esm ? importEntry(pkg.root) : undefined;
    if (entry && !index.files.has(entry) && !requireHere.cache[entry]) walkExports(index, entry, loadedExports(entry, true));
  }
  return index;
}

/** A function defined in an installed package, by reference: (module file, property path) when one reaches it. */
export function packageFunctionRef(fn: Function, file: string): ModuleRef | undefined {
  const pkg = packageOf(file);
  if (!pkg) return undefined;
  const index = indexOf(pkg, file);
  return index.refs.get(fn) ?? throughScopes(index, fn);
}

/**
 * How many functions' scope chains one package's index reads, at most (about 0.6 ms each, most of
 * it V8 building the chain; a value found nowhere reads them all, once per package): lodash's
 * internals are in the scope of `_` itself, immer's instance is the `this` of an early export.
 */
const SCOPE_BUDGET = 32;

/**
 * `value` by a path through the scopes of functions the index reaches: lodash's `createHybrid`
 * is in no export but in the scope of `_.curry`, immer's one Immer instance is a module-level
 * variable its exported `produce` closes over. The walk resumes where the last search stopped
 * and notes every object and function it meets, so a package is read once, within SCOPE_BUDGET.
 * The worker reads the same variable of its own copy of the package (modules.ts scopeVariable).
 */
function throughScopes(index: PackageIndex, value: unknown): ModuleRef | undefined {
  while (index.scopeQueue.length && index.scopeReads < SCOPE_BUDGET) {
    const [fn, ref] = index.scopeQueue.shift()!;
    index.scopeReads++;
    const note = (member: unknown, step: RefStep) => {
      if ((typeof member !== 'function' && (typeof member !== 'object' || member === null)) || index.refs.has(member)) return;
      const found: ModuleRef = { ...ref, path: [...(ref.path ?? []), step] };
      index.refs.set(member, found);
      if (!allRefs.has(member)) allRefs.set(member, found);
      if (typeof member === 'function') index.scopeQueue.push([member, found]);
    };
    // A bound function (immer's exported `produceWithPatches = immer.produceWithPatches.bind(immer)`)
    // has no scopes, but its `this` and target are what it reaches: immer's one instance.
    if (fn.name.startsWith('bound ') && !Object.prototype.hasOwnProperty.call(fn, 'prototype')) {
      const parts = boundPartsOf(fn);
      if (parts) {
        note(parts.thisArg, { bound: 'this' });
        note(parts.target, { bound: 'target' });
      }
    }
    const seen = new Set<string>();
    for (const scope of scopeObjectsOf(fn)) {
      if (scope.description.startsWith('Global') || scope.description.startsWith('Script')) continue;
      for (const name of Object.keys(scope.object)) {
        // The innermost scope holding a name is the one the worker's lookup finds.
        if (seen.has(name) || name === 'this') continue;
        seen.add(name);
        // Only a function under its own name (`function createHybrid`, `const clone = (...) =>`): a
        // variable holding an object, or a function of another name, may be state the package sets
        // as it runs (zod's `let installing`, the schema being built), which the worker's copy
        // would not hold.
        const member = scope.object[name];
        if (typeof member === 'function' && member.name === name) note(member, { scope: name });
      }
    }
    if (index.refs.has(value)) return index.refs.get(value);
  }
  return undefined;
}

/** Every value of an installed package indexed so far, which travels by reference to it. */
export function indexedPackageValues(): Iterable<unknown> {
  return allRefs.keys();
}

/**
 * An object (not a function) that belongs to a package already indexed, by reference. An object
 * whose class a package defines has that package indexed first, so an exported instance is found.
 */
export function packageObjectRef(value: object): ModuleRef | undefined {
  const known = allRefs.get(value);
  if (known) return known;
  const ctor = constructorOf(value);
  if (!ctor) return undefined;
  const file = definingFile(ctor);
  const pkg = file ? packageOf(file) : undefined;
  if (!pkg) return undefined;
  const index = indexOf(pkg, file);
  return index.refs.get(value) ?? throughScopes(index, value);
}

/**
 * The package that keeps state about `value` in a weak collection it exposes (zod's registry of
 * descriptions, keyed by schema), if any: a copy would arrive without that state.
 */
export function packageHoldingState(value: object): string | undefined {
  for (const index of indices.values()) {
    for (const weak of index.weak) if (weak.has(value)) return index.name;
  }
  return undefined;
}

function constructorOf(value: object): Function | undefined {
  const proto = Object.getPrototypeOf(value) as object | null;
  if (!proto || proto === Object.prototype) return undefined;
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'constructor');
  const ctor: unknown = descriptor && 'value' in descriptor ? descriptor.value : undefined;
  return typeof ctor === 'function' ? ctor : undefined;
}

/**
 * How a function defined in an installed package travels: by the reference that reaches it, or
 * copied (`copy`: the package's name) when none does; undefined for the program's own functions.
 * It asks what capture would (the same index, cached per function and per package) at the cost of
 * two inspector round trips, so a reference skips the capture, and the copy budget is counted
 * before the capture's own round trips and file parses are spent.
 */
export function packageRoute(fn: Function): { ref: ModuleRef } | { copy: string } | undefined {
  const file = definingFile(fn);
  const pkg = file === undefined ? undefined : packageOf(file);
  if (!pkg) return undefined;
  const ref = packageFunctionRef(fn, file!) ?? requiredRefOf(fn);
  return ref ? { ref } : { copy: pkg.name };
}

/** The name of the package whose code defines `fn`, or undefined for the program's own code. */
export function packageNameOf(file: string): string | undefined {
  return packageOf(file)?.name;
}

/** What to do with a value a package built that cannot travel: make it where it is used. */
export function packageRemedy(name: string): string {
  return (
    `Create it inside the task, or once per worker with the \`initializer\` option (the README's "One resource per worker" shows how), ` +
    `from \`${name}\`'s exports; pass only plain data.`
  );
}

/** An error met while copying a function of package `name` (one no export reaches), named for the package once. */
const named = new WeakSet<object>();
export function inPackage<E extends Error & { path: string }>(error: E, name: string, fnName: string, make: (message: string, path: string, remedy: string) => E): E {
  if (named.has(error)) return error;
  const rewrapped = make(`${error.message} (inside \`${fnName}\`, made by the package \`${name}\`, which none of its exports reaches, so it is copied)`, error.path, packageRemedy(name));
  named.add(rewrapped);
  return rewrapped;
}
