import { unsendableReason } from '../values/unsendable.js';

/**
 * Values a data codec cannot carry, with the reason in words: what no codec
 * can carry (values/unsendable.ts), and functions. Serializers build their
 * `rejects` on this and add their own limits.
 */
export function commonRejection(value: unknown): string | undefined {
  if (typeof value === 'function') return 'a function cannot be sent by a data serializer';
  return unsendableReason(value);
}
