/**
 * The closure codec: a value graph, functions included, as plain data that
 * V8's serializer carries (graph.ts). Read it in this order: graph.ts (the
 * wire format), nodeKinds.ts (the table of node kinds, each with its encode
 * and decode), graphEncoder.ts, graphDecoder.ts, classRegistry.ts (class
 * identity across realms). Deserializing compiles code: accept payloads
 * only from a trusted sender.
 */
export { encodeGraph, encodingInitializer, holdsWeakKeys, sessionCapture, sessionEsModules, type EncodeOptions } from './graphEncoder.js';
export { importModules, modulesToImport } from './modules.js';
export { decodeGraph, type DecodeOptions } from './graphDecoder.js';
export { markWorkerRealm } from './classRegistry.js';
export type { Graph, NodeRecord } from './graph.js';
