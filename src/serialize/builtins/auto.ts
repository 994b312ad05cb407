import v8 from 'node:v8';
import { importAhead, loadNow } from '../../values/loadNow.js';
import type * as Codec from '../../closure/codec.js';
import type { Graph } from '../../closure/codec.js';
import { HOST_VIEW, NEEDS_CLOSURE, scanPayload } from '../scan.js';
import { commonRejection } from '../rejections.js';
import type { Serializer } from '../types.js';
import type { EncodeSession } from '../../values/session.js';

/**
 * The closure codec, loaded the first time a payload needs it: most of joblet's modules, which a
 * worker whose batches hold plain data never loads (runtime/onDemand.ts). The main thread has it
 * loaded already.
 */
const CODEC = new URL('../../closure/codec.js', import.meta.url);
let codec: typeof Codec | undefined;
const closureCodec = () => (codec ??= loadNow<typeof Codec>(CODEC));
importAhead([CODEC]);

const PLAIN = 0;
const GRAPH = 1;

function write(tag: number, value: unknown): Uint8Array {
  // v8.serialize's own steps, with a tag word before the value: no copy to prepend it.
  const serializer = new v8.DefaultSerializer();
  serializer.writeHeader();
  serializer.writeUint32(tag);
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/**
 * The default. Structured clone for data; only when a payload holds a
 * function or a class instance does it take the closure codec, which still
 * sends the data part through V8. Never fails where 'closure' succeeds; on
 * pure data it costs a scan more than 'structured' (see bench/closures.ts).
 */
function serialize(value: unknown, session?: EncodeSession): Uint8Array {
  // A key of a weak collection the run sent (a WeakSet's brand) needs the graph to join it there.
  if (scanPayload(value, NEEDS_CLOSURE) || (session && closureCodec().holdsWeakKeys(session, value))) return write(GRAPH, closureCodec().encodeGraph(value, { accessors: false }, session));
  try {
    return write(PLAIN, value);
  } catch {
    // Something structured clone refuses (a Proxy from wrapNonSerializable, a symbol...): the
    // closure codec carries what can be carried and names the path of what cannot.
    return write(GRAPH, closureCodec().encodeGraph(value, { accessors: false }, session));
  }
}

export const autoSerializer: Serializer = {
  name: 'auto',
  capabilities: { functions: true, closures: true, cycles: true, classInstances: true, binary: true },
  serialize: (value) => serialize(value),
  serializeInSession: serialize,
  deserialize(data) {
    const deserializer = new v8.DefaultDeserializer(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    deserializer.readHeader();
    const tag = deserializer.readUint32();
    const value = deserializer.readValue();
    return tag === GRAPH ? closureCodec().decodeGraph(value as Graph) : value;
  },
  rejects: (value) => (typeof value === 'function' ? undefined : commonRejection(value)),
  // Plain data, no Buffer: what a cloning transport carries exactly as serialize() would.
  transportClones: (value) => scanPayload(value, NEEDS_CLOSURE | HOST_VIEW) === 0,
};
