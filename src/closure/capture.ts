import { describeFunction } from '../source/functionSource.js';
import { parseFunctionSource, type SourceForm } from '../source/freeVariables.js';
import { isWorkerGlobal } from '../source/globals.js';
import { functionInternals, release, scopesOf, scriptUrl, sourceStart, valueOf } from './inspector.js';
import { fileURLToPath } from 'node:url';
import { builtinRefOf, insideFunction, isStrictAt, MODULE_OBJECT_BINDING, moduleBindings, REQUIRE_BINDING, requiredRefOf, type ModuleRef } from './modules.js';
import { packageFunctionRef, packageNameOf } from './packages.js';
import { inTemporalDeadZone, probeUnavailable } from './scopeProbe.js';
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/**
 * What a function is made of, as live values: its source and the variables
 * it captures (a snapshot, read now), or the pieces of a bound function, or
 * a reference (a global, a module export) that the worker resolves itself.
 */
/** The name a rewritten `extends` clause refers to. */
export const SUPER_NAME = '__jobletSuper$';

export interface ScopeSite {
  key: string;
  once: boolean;
}

export type Capture =
  | {
      kind: 'source';
      name: string;
      source: string;
      form: SourceForm;
      isClass: boolean;
      /**
       * A class's parent, taken from the class itself: V8 keeps no scope entry for a name
       * read only by `extends`, so the source's `extends` expression is replaced by SUPER_NAME.
       */
      superClass: { value: unknown } | undefined;
      /** Captured variables and their current values. */
      values: Map<string, unknown>;
      /**
       * Where each captured variable lives: two functions whose variable has the same `key` may
       * share that binding (same script, same scope depth and shape); `once` says the scope is a
       * module's top level, which exists once, so the same key is the same scope.
       */
      sites: Map<string, ScopeSite>;
      /** Captured variables the function (or a function inside it) assigns. */
      written: ReadonlySet<string>;
      /** Captured variables bound to imports or requires: carried by reference. */
      modules: Map<string, ModuleRef>;
      /** An arrow function's lexical `this`, when it uses one. */
      lexicalThis: { value: unknown } | undefined;
      /** An arrow function: its body cannot reach the function object (no own name, `this` or `arguments`). */
      isArrow: boolean;
      /** Globals it reads that neither this process nor a worker has yet: one a program adds later travels from then on. */
      absentGlobals: string[];
      /** The function was defined in strict code (an ES module, a class, 'use strict'). */
      strict: boolean;
      /** A class with `#private` members. */
      hasPrivateMembers: boolean;
      /** Where the source starts in the user's file (0-based), so the rebuilt function's stack frames point there. */
      origin?: { url: string; line: number; column: number } | undefined;
      /** The installed package whose code defines the function (copied because no export reaches it). */
      package?: string | undefined;
    }
  | { kind: 'bound'; name: string; target: Function; thisArg: unknown; args: unknown[] }
  | { kind: 'global'; name: string; path: string }
  /** `hasPrivateMembers`: a package's class with `#private` members (its instances' state cannot be copied). */
  | { kind: 'module'; name: string; ref: ModuleRef; hasPrivateMembers?: boolean }
  /** `builtin`: a function of Node or V8 itself (no source, or a node: script), not the user's. */
  | { kind: 'unsupported'; name: string; reason: string; package?: string | undefined; builtin?: boolean };

/** Capture a function: one inspector round trip per scope, about a quarter of a millisecond in all. */
export function captureFunction(fn: Function): Capture {
  try {
    return captureUnreleased(fn);
  } finally {
    release();
  }
}

function captureUnreleased(fn: Function): Capture {
  const description = describeFunction(fn);
  const name = description.name;
  if (description.kind === 'global') return { kind: 'global', name, path: description.path };
  const { internals } = functionInternals(fn);
  if (internals.boundTarget) {
    return {
      kind: 'bound',
      name,
      target: valueOf(internals.boundTarget) as Function,
      thisArg: internals.boundThis ? valueOf(internals.boundThis) : undefined,
      args: internals.boundArgs ? [...(valueOf(internals.boundArgs) as unknown[])] : [],
    };
  }
  const url = internals.location ? scriptUrl(internals.location.scriptId) : '';
  if (description.kind === 'unsupported' || url.startsWith('node:')) {
    // Node's own functions (path.join, EventEmitter, ...) travel as the module export they are.
    const ref = builtinRefOf(fn);
    if (ref) return { kind: 'module', name, ref };
    const reason =
      description.kind === 'unsupported'
        ? description.reason
        : `it is internal to Node (${url}) and not an export of a builtin module joblet knows`;
    return { kind: 'unsupported', name, reason, builtin: true };
  }
  // A function of an installed package that one of its modules exports (or holds at a short
  // property path) travels as that reference, like a builtin's: the capture stops at the package.
  const file = url.startsWith('file:') ? fileURLToPath(url) : undefined;
  if (file && url.includes('/node_modules/')) {
    const ref = packageFunctionRef(fn, file) ?? requiredRefOf(fn);
    if (ref) {
      const isClass = description.source.startsWith('class');
      return { kind: 'module', name, ref, hasPrivateMembers: isClass && parseFunctionSource(description.source)?.hasPrivateMembers === true };
    }
  }
  const parsed = parseFunctionSource(description.source)!;
  const pkg = file ? packageNameOf(file) : undefined;
  const refuse = (reason: string): Capture => ({ kind: 'unsupported', name, reason, package: pkg });
  if (parsed.callsEval) return refuse('it calls eval(), which may read any variable in scope, so what it captures cannot be known. Pass the values as arguments instead');
  if (parsed.usesSuper) {
    return refuse(
      'it uses `super`, whose home object (the object or class that defines it) is not part of its source. Send the object or class itself, or call the parent method explicitly',
    );
  }
  const scopes = internals.scopes ? scopesOf(internals.scopes) : [];
  const isModule = scopes.some((scope) => scope.kind === 'Module');
  // The script's top-level scope: the Module scope of an ES module, else the outermost one before
  // Script scopes (which classic scripts, the REPL or node -e add after it).
  let top = scopes.findIndex((scope) => scope.kind === 'Module');
  if (top < 0) for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i]!.kind !== 'Script') { top = i; break; }
  // Read only when a variable is of the top level: parsing a large package file (lodash's) is costly.
  let bindings: Map<string, ModuleRef> | undefined;
  const bindingsOf = () => (bindings ??= internals.location && url.startsWith('file:') ? moduleBindings(internals.location.scriptId) : new Map<string, ModuleRef>());
  const values = new Map<string, unknown>();
  const absentGlobals: string[] = [];
  const sites = new Map<string, ScopeSite>();
  const modules = new Map<string, ModuleRef>();
  let source = description.source;
  let superClass: { value: unknown } | undefined;
  const heritage = new Set<string>();
  if (parsed.superClassRange) {
    const [start, end] = parsed.superClassRange;
    source = `${source.slice(0, start)}${SUPER_NAME}${source.slice(end)}`;
    superClass = { value: Object.getPrototypeOf(fn) };
    for (const name of parsed.heritageNames) heritage.add(name);
  }
  // An arrow's `arguments` is its enclosing function's: a strict wrapper cannot declare one, and
  // the rebuilt arrow would read the arguments of joblet's own wrapper instead.
  if (parsed.referencedNames.includes('arguments')) {
    return refuse(
      'it is an arrow function that uses `arguments` of the function that created it, which cannot be rebuilt in a worker. ' +
        'Give that function rest parameters (...args) and use them in the arrow instead',
    );
  }
  for (const variable of parsed.referencedNames) {
    const at = scopes.findIndex((scope) => scope.variables.has(variable));
    // A name read only by `extends` is not in any scope; the parent itself is captured above.
    if (at < 0 && heritage.has(variable)) continue;
    // A global in a computed name (`*[Symbol.iterator]()`) is the worker's own: only a local one has no value.
    if (at < 0 && parsed.computedKeyNames.includes(variable) && !(variable in globalThis)) {
      return refuse(`it uses \`${variable}\` only in a computed member name, and V8 keeps no value for it there. Write the key inline (for instance [Symbol.iterator])`);
    }
    if (at < 0) {
      // Not in any scope of the function: a global. Standard ones are the worker's own;
      // a property a program added to globalThis is carried like a captured variable.
      if (!isWorkerGlobal(variable) && variable in globalThis) values.set(variable, (globalThis as Record<string, unknown>)[variable]);
      else if (!isWorkerGlobal(variable)) absentGlobals.push(variable);
      continue;
    }
    // `require` in a CommonJS module: the worker makes its own, resolving from the same file.
    if (variable === 'require' && !isModule && at === top && file) {
      modules.set(variable, { specifier: file, binding: REQUIRE_BINDING });
      continue;
    }
    // A CommonJS module's own `exports` and `module` (tsc's output reads every export as `exports.x`):
    // by reference to the module, which the worker requires. Not the program's main module, whose
    // loading would run the program in the worker: that one is copied, like Python's __main__.
    if ((variable === 'exports' || variable === 'module') && !isModule && at === top && file && requireHere.cache[file] && requireHere.main?.filename !== file) {
      const own = requireHere.cache[file]!;
      const value = valueOf(scopes[at]!.variables.get(variable)!);
      if (value === (variable === 'exports' ? own.exports : own)) {
        modules.set(variable, { specifier: file, binding: variable === 'exports' ? 'module' : MODULE_OBJECT_BINDING });
        continue;
      }
    }
    // A binding of the script's top level may be an import or a require: the module travels by
    // reference, as cloudpickle sends functions of importable modules. The worker loads it again,
    // so its top-level code runs there and state set on it in the main thread does not travel.
    const binding = at === top ? bindingsOf().get(variable) : undefined;
    if (binding) modules.set(variable, binding);
    else {
      const value = valueOf(scopes[at]!.variables.get(variable)!);
      // The inspector shows a `let`, `const` or class whose declaration has not run as undefined: a
      // call here would throw a ReferenceError, the worker would read undefined. Asked where it can be.
      if (value === undefined && parsed.enterable && !parsed.isClass && !probeUnavailable() && inTemporalDeadZone(fn, variable)) {
        return refuse(
          `it uses \`${variable}\`, whose declaration (let, const or class) has not run yet: called here it would throw a ReferenceError, and a worker would read undefined. ` +
            'Declare and set it before the run() that sends the function',
        );
      }
      values.set(variable, value);
      if (internals.location) {
        const scope = scopes[at]!;
        const key = `${internals.location.scriptId}:${scopes.length - at}:${scope.kind}:${[...scope.variables.keys()].sort().join(',')}`;
        // A module runs once: its top-level scope is one scope for every function of its script.
        sites.set(variable, { key, once: at === top && (isModule || url.startsWith('file:')) });
      }
    }
  }
  let lexicalThis: { value: unknown } | undefined;
  if (parsed.usesLexicalThis) {
    const holder = scopes.find((scope) => scope.variables.has('this'));
    if (holder) lexicalThis = { value: valueOf(holder.variables.get('this')!) };
    else if (!internals.location || insideFunction(internals.location.scriptId, internals.location.lineNumber, internals.location.columnNumber)) {
      // V8 keeps an arrow's `this` where no scope entry shows it: refuse rather than send the wrong one.
      return {
        kind: 'unsupported',
        name,
        package: pkg,
        reason:
          "it is an arrow function that uses `this` from the function that created it, and V8 does not expose that `this`. " +
          'Put the value in a variable the arrow captures (const self = this), or use a regular function with .bind(object)',
      };
    }
    // At the top of a CommonJS module `this` is module.exports, which no scope entry shows either.
    else if (!isModule) return refuse('it is an arrow at the top of a CommonJS module that uses `this` (module.exports); use exports by name instead');
    // An arrow at the top of an ES module: `this` there is undefined.
    else lexicalThis = { value: undefined };
  }
  const start = internals.location && url ? sourceStart(internals.location.scriptId, internals.location.lineNumber, internals.location.columnNumber, description.source) : undefined;
  return {
    kind: 'source',
    name,
    source,
    origin: start && { url, ...start },
    form: description.form,
    isClass: parsed.isClass,
    hasPrivateMembers: parsed.hasPrivateMembers,
    superClass,
    values,
    sites,
    written: new Set(parsed.writtenNames),
    modules,
    lexicalThis,
    isArrow: parsed.isArrow,
    absentGlobals,
    package: pkg,
    strict:
      parsed.isClass ||
      isModule ||
      (internals.location !== undefined &&
        url.startsWith('file:') &&
        // Only a sloppy ordinary function has its own `caller`: V8 says so without parsing the file.
        !Object.prototype.hasOwnProperty.call(fn, 'caller') &&
        isStrictAt(internals.location.scriptId, internals.location.lineNumber, internals.location.columnNumber)),
  };
}
