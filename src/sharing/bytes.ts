import { types } from 'node:util';

/** `'1M'`, `'10K'`, `'2G'`, `1048576` → bytes (joblib's max_nbytes strings); null turns sharing off. */
export function parseBytes(value: number | string | null, option = 'maxNbytes'): number | null {
  if (value === null) return null;
  if (typeof value === 'number') {
    if (!(value >= 0)) throw new RangeError(`Expected \`${option}\` to be a number of bytes, a string like '10M', or null, got \`${value}\``);
    return value;
  }
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$/i.exec(value) : null;
  if (!match) throw new TypeError(`Expected \`${option}\` to be a number of bytes, a string like '10M', or null, got \`${String(value)}\``);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(match[1]) * unit);
}

/**
 * A cheap lower bound of what sending `value` costs, in bytes, without
 * walking it: buffers by their length, arrays at 8 bytes an element,
 * strings at 2 bytes a character, Maps and Sets by size. Other objects count
 * as small: automatic sharing looks at the values passed as arguments.
 */
export function estimateBytes(value: unknown): number {
  if (typeof value === 'string') return value.length * 2;
  // A Proxy answers instanceof through its handler (user code, or a throw when revoked): it is
  // never shared, and the serializer's own check refuses it with its path.
  if (typeof value !== 'object' || value === null || types.isProxy(value)) return 0;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return value.byteLength;
  if (Array.isArray(value)) return value.length * 8;
  if (value instanceof Map || value instanceof Set) return value.size * 16;
  return 0;
}
