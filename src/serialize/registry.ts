import { UnserializableValueError, type Serializer } from './types.js';
import { findInGraph, someInGraph } from '../values/graph.js';
import { formatPath } from '../values/paths.js';
import { aheadLoading } from '../values/loadNow.js';

interface Entry {
  /** What joblet calls: the given serializer, guarded where it would drop functions silently. */
  serializer: Serializer;
  /** The object the user registered (re-registering it is not a conflict). */
  given: Serializer;
  /** Module a worker imports to register this serializer in its own registry. */
  module: string | undefined;
}

/**
 * A serializer's name: a built-in one, or any name given to registerSerializer().
 * `string & {}` accepts every string while editors still offer the built-in names.
 */
export type SerializerName = 'auto' | 'structured' | 'json' | 'devalue' | 'javascript' | 'closure' | (string & {});

const registry = new Map<string, Entry>();
let explicitDefault: string | undefined;

/**
 * The built-ins, loaded on demand. The main thread registers them all at
 * import (serialize/builtins.ts); a worker loads only the codecs its
 * messages name, because their parsers and codecs (acorn, eslint-scope,
 * devalue, serialize-javascript) cost about 50 ms of every worker's start-up.
 */
const BUILT_IN: Record<string, () => Promise<Serializer>> = {
  structured: async () => (await import('./builtins/structured.js')).structuredSerializer,
  json: async () => (await import('./builtins/json.js')).jsonSerializer,
  devalue: async () => (await import('./builtins/devalue.js')).devalueSerializer,
  javascript: async () => (await import('./builtins/javascript.js')).javascriptSerializer,
  // A graph may hold a persisted handle, whose file is read with 'auto': load it with 'closure'.
  closure: async () => {
    if (!registry.has('auto')) registerBuiltIn((await import('./builtins/auto.js')).autoSerializer);
    return (await import('./builtins/closure.js')).closureSerializer;
  },
  auto: async () => (await import('./builtins/auto.js')).autoSerializer,
};
const isBuiltIn = (name: string) => Object.hasOwn(BUILT_IN, name);

/** Register a built-in codec (called once per realm by serialize/builtins.ts or on demand). */
export function registerBuiltIn(serializer: Serializer): void {
  registry.set(serializer.name, { serializer, given: serializer, module: undefined });
}

/** How `registerSerializer` makes a serializer known to workers. */
export interface RegisterSerializerOptions {
  /**
   * URL or absolute path of a module that registers this serializer when
   * imported. Workers live in their own isolates with their own registry;
   * they import this module the first time a message names the serializer.
   * Keep the registration in a small module of its own (not your main
   * script, which the worker would then run again).
   * @default undefined (workers cannot load it: only the inline backend can use it)
   * @example registerSerializer(msgpack, { module: import.meta.url })
   */
  module?: string | URL;
  /**
   * Replace an existing serializer of the same name. Built-ins cannot be replaced.
   * @default false
   * @example registerSerializer(fasterMsgpack, { replace: true })
   */
  replace?: boolean;
}

function checkSerializer(serializer: Serializer): void {
  const s = serializer as Partial<Serializer> | null;
  if (!s || typeof s !== 'object') throw new TypeError(`registerSerializer expects a serializer object, got ${String(serializer)}`);
  if (typeof s.name !== 'string' || !s.name) throw new TypeError('A serializer needs a non-empty string `name`');
  if (typeof s.serialize !== 'function' || typeof s.deserialize !== 'function') {
    throw new TypeError(`Serializer '${s.name}' needs \`serialize\` and \`deserialize\` functions`);
  }
  if (!s.capabilities || typeof s.capabilities !== 'object') {
    throw new TypeError(`Serializer '${s.name}' needs a \`capabilities\` object ({ functions, closures, cycles, classInstances, binary })`);
  }
}

/** Add a serializer to the registry so `serializer: name` can pick it. */
export function registerSerializer(serializer: Serializer, options: RegisterSerializerOptions = {}): void {
  checkSerializer(serializer);
  if (isBuiltIn(serializer.name) && registry.get(serializer.name)?.given !== serializer) {
    throw new Error(`Serializer '${serializer.name}' is built in and cannot be replaced; choose another name`);
  }
  const existing = registry.get(serializer.name);
  if (existing && existing.given !== serializer) {
    if (isBuiltIn(serializer.name)) throw new Error(`Serializer '${serializer.name}' is built in and cannot be replaced; choose another name`);
    if (!options.replace) throw new Error(`A serializer named '${serializer.name}' is already registered; pass { replace: true } to replace it`);
  }
  const module = options.module instanceof URL ? options.module.href : options.module;
  registry.set(serializer.name, { serializer: refusingFunctions(serializer), given: serializer, module: module ?? existing?.module });
}

/** Names of every registered serializer, built-ins first. */
export function listSerializers(): string[] {
  return [...new Set([...Object.keys(BUILT_IN), ...registry.keys()])];
}

/** Look a serializer up by name; an unknown name lists the registered ones. */
export function getSerializer(name: SerializerName): Serializer {
  const entry = registry.get(name);
  if (!entry) {
    throw new RangeError(`Unknown serializer '${name}'. Registered serializers: ${listSerializers().join(', ')}. Add one with registerSerializer().`);
  }
  return entry.serializer;
}

/**
 * The serializer, loading it first where needed: a built-in codec not yet
 * imported in this realm, or a user serializer through the module it was
 * registered with. Workers call this; the main thread has everything loaded.
 */
export async function loadSerializer(name: string, module?: string): Promise<Serializer> {
  if (!registry.has(name)) {
    if (isBuiltIn(name)) registerBuiltIn(await BUILT_IN[name]!());
    else if (module) await import(module);
    // What it loads on first need, where this realm has to import it first (values/loadNow.ts).
    await aheadLoading();
  }
  return getSerializer(name);
}

/** Whether `name` is registered in this realm already (loadSerializer would not have to wait). */
export function isSerializerLoaded(name: string): boolean {
  return registry.has(name);
}

/** The module that registers `name` in a worker, if it was registered with one. */
export function serializerModule(name: string): string | undefined {
  return registry.get(name)?.module;
}

/**
 * Choose the process-wide default serializer (loky's `set_loky_pickler`).
 * Call with no argument to go back to `JOBLET_SERIALIZER` or 'auto'.
 */
export function setDefaultSerializer(name?: SerializerName): void {
  if (name !== undefined) getSerializer(name);
  explicitDefault = name;
}

/** The default serializer's name: setDefaultSerializer(), else JOBLET_SERIALIZER, else 'auto'. */
export function getDefaultSerializer(): string {
  if (explicitDefault) return explicitDefault;
  const fromEnv = process.env.JOBLET_SERIALIZER;
  if (fromEnv) {
    if (!registry.has(fromEnv) && !isBuiltIn(fromEnv)) {
      throw new RangeError(`JOBLET_SERIALIZER names an unknown serializer '${fromEnv}'. Registered serializers: ${listSerializers().join(', ')}.`);
    }
    return fromEnv;
  }
  return 'auto';
}

/**
 * A serializer that says it cannot carry functions must not drop them without a word (many
 * codecs write a function as undefined): look for one first, and refuse it with its path.
 * A tight scan; the walk that builds the path runs only when there is a function.
 */
function refusingFunctions(serializer: Serializer): Serializer {
  if (serializer.capabilities.functions) return serializer;
  const isFunction = (value: unknown) => typeof value === 'function';
  // Everything else is the user's own object (its methods keep their `this`), seen through the prototype.
  const guarded = Object.create(serializer) as Serializer;
  Object.defineProperty(guarded, 'serialize', {
    value(value: unknown) {
      if (someInGraph(value, isFunction)) {
        const at = findInGraph(value, (node) => (isFunction(node.value) ? node.path() : undefined))!;
        throw new UnserializableValueError(`a function cannot be sent by '${serializer.name}' (its capabilities say functions: false)`, formatPath('', at));
      }
      return serializer.serialize(value);
    },
  });
  return guarded;
}
