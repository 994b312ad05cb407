import vm from 'node:vm';

/**
 * Names a function may use freely because every worker has them: the
 * language's built-ins (read from a fresh vm context, so nothing a user
 * script added counts) and the globals Node gives every thread and process.
 */

// Node's own globals, as in every worker thread and child process of Node 20+.
export const nodeGlobalNames: readonly string[] = [
  'global', 'globalThis', 'process', 'Buffer', 'console', 'performance', 'navigator',
  'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate',
  'queueMicrotask', 'structuredClone', 'atob', 'btoa', 'fetch', 'crypto',
  'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'AbortController', 'AbortSignal',
  'EventTarget', 'Event', 'CustomEvent', 'MessageChannel', 'MessagePort', 'MessageEvent', 'BroadcastChannel',
  'Blob', 'File', 'FormData', 'Headers', 'Request', 'Response', 'DOMException',
  'ReadableStream', 'WritableStream', 'TransformStream', 'CompressionStream', 'DecompressionStream',
  'WebAssembly',
];

// Built on first use: a fresh vm context costs milliseconds that a worker's start-up should not pay.
let language: readonly string[] | undefined;
let known: Set<string> | undefined;

/** The language's own globals (Object, Array, Math, Intl...), as a fresh realm has them. */
export function languageGlobalNames(): readonly string[] {
  return (language ??= vm.runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[]);
}

/** True for a name that resolves to the same kind of thing in every worker. */
export function isWorkerGlobal(name: string): boolean {
  known ??= new Set([...languageGlobalNames(), ...nodeGlobalNames]);
  return known.has(name);
}
