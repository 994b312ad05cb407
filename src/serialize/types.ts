import type { EncodeSession } from '../values/session.js';

/** What a serializer can carry. Used to pick remedies and to document the built-ins. */
export interface SerializerCapabilities {
  /** Functions inside values (as source, at least). */
  functions: boolean;
  /** Functions together with the variables they capture. */
  closures: boolean;
  /** Objects that refer back to themselves. */
  cycles: boolean;
  /** Class instances keep their prototype (`instanceof` holds after the trip). */
  classInstances: boolean;
  /** Output is bytes (`Uint8Array`) rather than text. */
  binary: boolean;
}

/**
 * One object owns both directions of a codec. `deserialize(serialize(v))`
 * rebuilds `v` as faithfully as the codec can; where it cannot, `serialize`
 * throws (ideally an {@link UnserializableValueError} naming the path).
 */
export interface Serializer {
  /** The name `serializer: name` picks it by; unique in the registry. */
  readonly name: string;
  /** What it can carry (functions, cycles, class instances...), for `auto` and the error messages. */
  readonly capabilities: SerializerCapabilities;
  /** Encode a value to bytes or text; throw when the value cannot be carried. */
  serialize(value: unknown): Uint8Array | string;
  /**
   * @internal `serialize` within a run: `session` is the run's encode session (values/session.ts),
   * where joblet's own codecs keep what every payload of the run shares (the closure codec
   * captures each function once per run). A user serializer is called with the value alone, so
   * a library function registered as it is (`devalue.stringify`) is never handed joblet's object.
   */
  serializeInSession?(value: unknown, session: EncodeSession): Uint8Array | string;
  /** Rebuild the value from what `serialize` made (in a worker, or in the main thread for results). */
  deserialize(data: Uint8Array | string): unknown;
  /**
   * Optional: why this serializer cannot carry `value` (one node of a graph,
   * not its children), or undefined when it can. joblet calls it only after
   * `serialize` failed, to find the path of the culprit for the error message.
   */
  rejects?(value: unknown, context: { cyclic: boolean }): string | undefined;
  /**
   * Optional: true when `serialize` throws on every Proxy. Values marked with
   * `wrapNonSerializable` are proxies, so joblet can then skip scanning a
   * payload for them before the first attempt: the attempt itself finds them.
   */
  readonly refusesProxies?: boolean;
  /**
   * Optional: true when a transport that structured-clones its messages (postMessage,
   * child_process's 'advanced' IPC) would rebuild `value` exactly as `deserialize(serialize(value))`
   * does. joblet then hands the value to the transport as it is, skipping an encode, a copy
   * of the bytes and a decode; if the transport refuses it after all, the batch is serialized.
   */
  transportClones?(value: unknown): boolean;
}

/** Thrown by a serializer that knows where in the value it failed. */
export class UnserializableValueError extends Error {
  /** Path relative to the serialized root, e.g. `[0].onItem`, or ` -> captured 'db' -> .pool` through a function's captures. */
  readonly path: string;
  /** What to do instead, when the codec knows better than the generic advice. */
  readonly remedy: string | undefined;

  constructor(message: string, path: string, remedy?: string) {
    super(message);
    this.name = 'UnserializableValueError';
    this.path = path;
    this.remedy = remedy;
  }
}
