import { REF_KEY, encodeValue, resolveReferences } from '../serialize/payload.js';
import { getSerializer } from '../serialize/registry.js';
import type { Serializer } from '../serialize/types.js';
import { FALLBACK_SERIALIZER, isWrapped, unwrap } from '../serialize/wrap.js';

/**
 * A value encoded the way a run encodes a task's arguments: by the chosen
 * serializer, except the values marked with wrapNonSerializable, which
 * travel as separate blobs of the fallback serializer and are referred to
 * by placeholders. Comparing serializers on anything else would refuse a
 * wrapped function under 'structured', which a run carries.
 */
export interface Encoded {
  data: Uint8Array | string;
  /** The wrapped values: [placeholder id, blob encoded by FALLBACK_SERIALIZER]. */
  wrapped: [string, Uint8Array | string][];
  /** The placeholder key `data` uses (it is random per process). */
  refKey: string;
}

/** Encode like a run does; throws what encodeValue throws (a SerializationError naming the path). */
export function encodeLikeARun(value: unknown, serializer: Serializer): Encoded {
  const fallback = getSerializer(FALLBACK_SERIALIZER);
  const ids = new Map<unknown, string>();
  const wrapped: [string, Uint8Array | string][] = [];
  const { data } = encodeValue(value, {
    serializer,
    root: '',
    phase: 'serialize-task',
    isSpecial: isWrapped,
    refer(special) {
      let id = ids.get(special);
      if (id === undefined) {
        id = String(ids.size);
        ids.set(special, id);
        wrapped.push([id, fallback.serialize(unwrap(special))]);
      }
      return id;
    },
  });
  return { data, wrapped, refKey: REF_KEY };
}

/** Size of the encoded form: bytes, or UTF-8 bytes of text, wrapped blobs included. */
export function encodedBytes(encoded: Encoded): number {
  const size = (data: Uint8Array | string) => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
  return encoded.wrapped.reduce((sum, [, blob]) => sum + size(blob), size(encoded.data));
}

/** Rebuild what encodeLikeARun made, with the same serializers (as loaded in this thread). */
export function decodeLikeARun(encoded: Encoded, serializer: Serializer, fallback: Serializer): unknown {
  const value = serializer.deserialize(encoded.data);
  if (encoded.wrapped.length === 0) return value;
  const blobs = new Map(encoded.wrapped);
  const built = new Map<string, unknown>();
  return resolveReferences(value, encoded.refKey, (id) => {
    if (!built.has(id)) built.set(id, fallback.deserialize(blobs.get(id)!));
    return built.get(id);
  });
}
