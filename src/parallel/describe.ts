/** `0` (number), `"x"` (string), an object (Object): how option errors show the value given. */
export function describeValue(value: unknown): string {
  if (value === null) return '`null`';
  if (typeof value === 'string') return `\`${JSON.stringify(value)}\` (string)`;
  if (typeof value === 'object' || typeof value === 'function') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'Object';
    return typeof value === 'function' ? `a function (${(value as Function).name || 'anonymous'})` : `an object (${name})`;
  }
  return `\`${String(value)}\` (${typeof value})`;
}
