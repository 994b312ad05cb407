import { createRequire, isBuiltin } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { types } from 'node:util';
import type * as Acorn from 'acorn';
import { boundPartsOf, scopeObjectsOf, scriptSource, scriptUrl } from './inspector.js';
import { loadParser } from '../source/freeVariables.js';

/**
 * A module value carried by reference: the worker loads the same module and
 * takes the same binding from it; nothing of the module is copied.
 * `specifier` is a builtin name or an absolute path.
 */
export interface ModuleRef {
  specifier: string;
  /** 'namespace' (import * as x), 'default' (import x), 'module' (require), or an export's name. */
  binding: string;
  /**
   * Steps walked from the binding: a property name (`z.string`: binding 'module', path ['z', 'string']),
   * or a variable of the scope chain of the function reached so far (lodash's internal `createHybrid`,
   * which no export holds but `_.curry` closes over: path ['curry', { scope: 'createHybrid' }]).
   */
  path?: RefStep[];
}

export type RefStep = string | { scope: string } | { bound: 'this' | 'target' };

/** A path for messages: `curry.<createHybrid>`. */
const showPath = (path: readonly RefStep[]) => path.map((step) => (typeof step === 'string' ? step : 'scope' in step ? `<${step.scope}>` : `<bound ${step.bound}>`)).join('.');

/** One step of a reference's path from `value`. */
function stepFrom(value: object, step: RefStep): unknown {
  if (typeof step === 'string') return (value as Record<string, unknown>)[step];
  if ('scope' in step) return scopeVariable(value, step.scope);
  const parts = typeof value === 'function' ? boundPartsOf(value) : undefined;
  return parts === undefined ? undefined : step.bound === 'this' ? parts.thisArg : parts.target;
}

const cache = new Map<string, Map<string, ModuleRef>>();
const programs = new Map<string, Acorn.Program | null>();

/** The parsed script, once per script id. */
function programOf(scriptId: string): Acorn.Program | undefined {
  let program = programs.get(scriptId);
  if (program === undefined) {
    program = parse(scriptSource(scriptId)) ?? null;
    programs.set(scriptId, program);
  }
  return program ?? undefined;
}

type AnyNode = Acorn.Node & Record<string, unknown>;

/** The character offset of (line, column) in a script, as the inspector reports positions. */
function offsetOf(scriptId: string, line: number, column: number): number {
  let starts = lineStarts.get(scriptId);
  if (!starts) {
    const source = scriptSource(scriptId);
    starts = [0];
    for (let at = source.indexOf('\n'); at >= 0; at = source.indexOf('\n', at + 1)) starts.push(at + 1);
    lineStarts.set(scriptId, starts);
  }
  return (starts[line] ?? 0) + column;
}
const lineStarts = new Map<string, number[]>();

/**
 * Whether the code at (line, column) of a script sits inside a non-arrow
 * function or a class: then an arrow there takes `this` from that function,
 * a value no scope entry shows.
 */
export function insideFunction(scriptId: string, line: number, column: number): boolean {
  const offset = offsetOf(scriptId, line, column);
  const program = programOf(scriptId);
  if (!program) return true;
  const visit = (node: unknown, inFunction: boolean): boolean | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    const n = node as AnyNode;
    if (typeof n.type !== 'string' || typeof n.start !== 'number') {
      for (const child of Object.values(n)) {
        const found = Array.isArray(child) ? child.map((c) => visit(c, inFunction)).find((r) => r !== undefined) : visit(child, inFunction);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (offset < n.start || offset >= n.end) return undefined;
    if (n.type === 'ArrowFunctionExpression' && n.start === offset) return inFunction;
    const entersFunction = n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ClassBody';
    for (const [key, child] of Object.entries(n)) {
      if (key === 'type' || key === 'start' || key === 'end') continue;
      const found = Array.isArray(child) ? child.map((c) => visit(c, inFunction || entersFunction)).find((r) => r !== undefined) : visit(child, inFunction || entersFunction);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return visit(program, false) ?? true;
}

/** The imports and top-level requires of the script that defines a function, by local name. */
export function moduleBindings(scriptId: string): Map<string, ModuleRef> {
  let bindings = cache.get(scriptId);
  if (!bindings) {
    bindings = readBindings(scriptId);
    cache.set(scriptId, bindings);
  }
  return bindings;
}

function parse(source: string): Acorn.Program | undefined {
  const { acorn } = loadParser();
  for (const sourceType of ['module', 'script'] as const) {
    try {
      return acorn.parse(source, { ecmaVersion: 'latest', sourceType, allowHashBang: true, allowReturnOutsideFunction: true });
    } catch {
      /* try the other source type */
    }
  }
  return undefined;
}

function readBindings(scriptId: string): Map<string, ModuleRef> {
  const bindings = new Map<string, ModuleRef>();
  const url = scriptUrl(scriptId);
  if (!url.startsWith('file:')) return bindings;
  const program = programOf(scriptId);
  if (!program) return bindings;
  const add = (local: string, specifier: string, binding: string) => {
    const resolved = resolveSpecifier(specifier, url);
    if (resolved) bindings.set(local, { specifier: resolved, binding });
  };
  for (const statement of program.body) {
    if (statement.type === 'ImportDeclaration') {
      const specifier = String(statement.source.value);
      for (const s of statement.specifiers) {
        if (s.type === 'ImportDefaultSpecifier') add(s.local.name, specifier, 'default');
        else if (s.type === 'ImportNamespaceSpecifier') add(s.local.name, specifier, 'namespace');
        else add(s.local.name, specifier, s.imported.type === 'Identifier' ? s.imported.name : String(s.imported.value));
      }
    } else if (statement.type === 'VariableDeclaration') {
      for (const declarator of statement.declarations) {
        const required = requiredSpecifier(declarator.init);
        if (!required) continue;
        if (declarator.id.type === 'Identifier') add(declarator.id.name, required.specifier, required.member ?? 'module');
        else if (declarator.id.type === 'ObjectPattern' && !required.member) {
          for (const property of declarator.id.properties) {
            if (property.type === 'Property' && property.key.type === 'Identifier' && property.value.type === 'Identifier') {
              add(property.value.name, required.specifier, property.key.name);
            }
          }
        }
      }
    }
  }
  return bindings;
}

/** `require('x')` or `require('x').member`, else undefined. */
function requiredSpecifier(node: Acorn.Expression | null | undefined): { specifier: string; member?: string } | undefined {
  if (!node) return undefined;
  if (node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier') {
    const inner = requiredSpecifier(node.object as Acorn.Expression);
    return inner && !inner.member ? { specifier: inner.specifier, member: node.property.name } : undefined;
  }
  if (node.type !== 'CallExpression' || node.callee.type !== 'Identifier' || node.callee.name !== 'require') return undefined;
  const [argument] = node.arguments;
  return argument?.type === 'Literal' && typeof argument.value === 'string' ? { specifier: argument.value } : undefined;
}

/** A builtin name, or the absolute path a specifier resolves to from `parentUrl`; undefined when it cannot be resolved. */
export function resolveSpecifier(specifier: string, parentUrl: string): string | undefined {
  if (isBuiltin(specifier)) return specifier;
  try {
    return createRequire(parentUrl).resolve(specifier);
  } catch {
    // A package whose exports offer only an `import` condition: resolve it as an import would.
    if (!specifier.startsWith('.') && !specifier.startsWith('/')) {
      try {
        return fileURLToPath(import.meta.resolve(specifier));
      } catch {
        return undefined;
      }
    }
    if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) {
      try {
        return fileURLToPath(new URL(specifier, parentUrl));
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}

const requireHere = createRequire(import.meta.url);

/** The binding that stands for a CommonJS module's own `require`, rebuilt in the worker for the same file. */
export const REQUIRE_BINDING = '<require>';

/** The binding that stands for a CommonJS module's own `module` object, the worker's for the same file. */
export const MODULE_OBJECT_BINDING = '<module>';

/**
 * ES modules this realm loaded with import() ahead of a synchronous decode: require() cannot load a
 * module graph with top-level await, so a worker imports what a snapshot names before decoding it.
 */
const imported = new Map<string, unknown>();

/**
 * The modules among `specifiers` that must be imported before a snapshot naming them is decoded
 * here: ES modules (a builtin or a CommonJS file is required synchronously) not imported yet.
 */
export function modulesToImport(specifiers: readonly string[]): string[] {
  return specifiers.filter((s) => !isBuiltin(s) && !imported.has(s) && !requireHere.cache[s]);
}

/** Import ES modules, so that loadModuleRef finds them without require(). */
export async function importModules(specifiers: readonly string[]): Promise<void> {
  for (const specifier of specifiers) {
    let namespace: unknown;
    try {
      namespace = await import(pathToFileURL(specifier).href);
    } catch {
      // Its decode fails the task that uses it, with require's own message.
      continue;
    }
    // A CommonJS file imported is its module.exports under require's cache: require() answers it.
    if (!requireHere.cache[specifier]) imported.set(specifier, namespace);
  }
}

/**
 * The ES module files among a snapshot's module references (a CommonJS file is in require's
 * cache): the ones a worker imports before decoding it, in case one has top-level await.
 */
export function esModuleSpecifiers(specifiers: Iterable<string>): string[] {
  return [...new Set(specifiers)].filter((s) => !isBuiltin(s) && !s.startsWith('node:') && !requireHere.cache[s]);
}

/** Load a module reference, synchronously: imported ahead (modulesToImport) or through require (Node 20.19+ can require ES modules). */
export function loadModuleRef(ref: ModuleRef): unknown {
  if (ref.binding === REQUIRE_BINDING) return createRequire(ref.specifier);
  const loaded = (imported.get(ref.specifier) ?? requireHere(ref.specifier)) as Record<string, unknown>;
  if (ref.binding === MODULE_OBJECT_BINDING) return requireHere.cache[ref.specifier];
  const isNamespace = types.isModuleNamespaceObject(loaded);
  let value: unknown;
  switch (ref.binding) {
    case 'namespace':
    case 'module':
      value = loaded;
      break;
    case 'default':
      value = isNamespace ? loaded.default : loaded;
      break;
    default:
      value = loaded[ref.binding];
  }
  for (const step of ref.path ?? []) {
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
      throw new Error(`joblet: ${ref.specifier} has no ${showPath([ref.binding, ...ref.path!])} in this worker`);
    }
    value = stepFrom(value, step);
  }
  // Only objects and functions are referred to by a path: undefined means the worker's module differs.
  if (ref.path?.length && value === undefined) throw new Error(`joblet: ${ref.specifier} has no ${showPath([ref.binding, ...ref.path])} in this worker`);
  return value;
}

/** Each function's scope chain as read once in this realm (a worker resolves many references through one export). */
const scopeChains = new WeakMap<Function, Record<string, unknown>[]>();

/** The variable `name` as the function `fn` sees it: the innermost scope of its chain that holds it. */
export function scopeVariable(fn: unknown, name: string): unknown {
  if (typeof fn !== 'function') return undefined;
  let chain = scopeChains.get(fn);
  if (!chain) scopeChains.set(fn, (chain = scopeObjectsOf(fn).filter((s) => !s.description.startsWith('Global')).map((s) => s.object)));
  const scope = chain.find((s) => Object.prototype.hasOwnProperty.call(s, name));
  return scope?.[name];
}

// Node's commonly used builtins, searched by identity when a captured value is one of their exports.
const BUILTINS = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'crypto', 'dns', 'events', 'fs', 'fs/promises', 'http', 'https',
  'net', 'os', 'path', 'perf_hooks', 'querystring', 'readline', 'stream', 'string_decoder', 'timers', 'timers/promises',
  'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];
let builtinIndex: Map<unknown, ModuleRef> | undefined;

/** A builtin module, or one of its direct exports, by identity. */
export function builtinRefOf(value: unknown): ModuleRef | undefined {
  return builtinRefs().get(value);
}

/**
 * The exports of builtin modules indexed so far (once a Node function was captured): requiring
 * every builtin to index them costs about a third of a second, which a capture does not pay
 * just to ask a weak collection about them.
 */
export function indexedBuiltinValues(): Iterable<unknown> {
  return builtinIndex?.keys() ?? [];
}

/** Every export of a builtin module joblet knows, with its reference (a worker has the same ones). */
function builtinRefs(): Map<unknown, ModuleRef> {
  if (!builtinIndex) {
    const index = new Map<unknown, ModuleRef>();
    for (const name of BUILTINS) {
      const exports = requireHere(`node:${name}`) as Record<string, unknown>;
      if (!index.has(exports)) index.set(exports, { specifier: `node:${name}`, binding: 'module' });
      for (const key of Object.keys(exports)) {
        const member = exports[key];
        if ((typeof member === 'function' || (typeof member === 'object' && member !== null)) && !index.has(member)) {
          index.set(member, { specifier: `node:${name}`, binding: key });
        }
      }
    }
    builtinIndex = index;
  }
  return builtinIndex;
}

/**
 * The exports of an already loaded CommonJS module, or one of their members, by identity. The
 * index is built once per set of loaded modules (a scan of every module's exports costs about
 * 2 ms with a large library loaded, and a capture asks once per package function); a hit is
 * checked against the module as it is now.
 */
export function requiredRefOf(value: unknown): ModuleRef | undefined {
  const paths = Object.keys(requireHere.cache);
  if (!requiredIndex || requiredIndex.modules !== paths.length) requiredIndex = { modules: paths.length, refs: indexRequired(paths) };
  const ref = requiredIndex.refs.get(value);
  const exports = ref && (requireHere.cache[ref.specifier]?.exports as Record<string, unknown> | undefined);
  return ref && (ref.binding === 'module' ? exports === value : exports?.[ref.binding] === value) ? ref : undefined;
}
let requiredIndex: { modules: number; refs: Map<unknown, ModuleRef> } | undefined;

function indexRequired(paths: string[]): Map<unknown, ModuleRef> {
  const refs = new Map<unknown, ModuleRef>();
  for (const path of paths) {
    const exports = requireHere.cache[path]?.exports as Record<string, unknown> | undefined;
    if (exports === undefined) continue;
    if (!refs.has(exports)) refs.set(exports, { specifier: path, binding: 'module' });
    if (typeof exports === 'object' || typeof exports === 'function') {
      for (const key of Object.keys(exports)) if (!refs.has(exports[key])) refs.set(exports[key], { specifier: path, binding: key });
    }
  }
  return refs;
}

/**
 * Whether the code at (line, column) of a script is strict: a 'use strict'
 * directive of the script or of an enclosing function, or a class body.
 */
export function isStrictAt(scriptId: string, line: number, column: number): boolean {
  const offset = offsetOf(scriptId, line, column);
  const program = programOf(scriptId);
  if (!program) return false;
  const directive = (body: unknown): boolean =>
    Array.isArray(body) && body.some((statement: AnyNode) => statement.type === 'ExpressionStatement' && statement.directive === 'use strict');
  let strict = directive(program.body);
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as AnyNode;
    if (typeof n.type !== 'string' || typeof n.start !== 'number' || offset < n.start || offset >= n.end) return;
    if (n.type === 'ClassBody') strict = true;
    if ((n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression') && directive((n.body as AnyNode).body)) strict = true;
    for (const [key, child] of Object.entries(n)) if (key !== 'type' && key !== 'start' && key !== 'end') visit(child);
  };
  visit(program);
  return strict;
}
