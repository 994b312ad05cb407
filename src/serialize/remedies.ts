import type { Serializer } from './types.js';

/** What to do about a value the serializer refused, in one or two sentences. */
export function remedyFor(culprit: unknown, serializer: Serializer, root: string): string {
  const inResult = root === 'result';
  if (typeof culprit === 'function') {
    if (inResult) return 'Return data, not functions; rebuild the function in the main thread.';
    return (
      `Wrap it with wrapNonSerializable(fn) so that only it takes the slow path, or use serializer 'javascript'. ` +
      'A function that uses variables from its enclosing scope needs them passed as arguments.'
    );
  }
  if (typeof culprit === 'bigint') return "Use serializer 'structured' or 'devalue', which carry BigInt.";
  if (typeof culprit === 'object' && culprit !== null) {
    const proto = Object.getPrototypeOf(culprit);
    if (proto && proto !== Object.prototype && proto !== Array.prototype && !serializer.capabilities.classInstances) {
      return (
        "Use serializer 'structured' (keeps the fields, drops the prototype), convert it to a plain object, " +
        'or wrap it with wrapNonSerializable(obj).'
      );
    }
  }
  if (!serializer.capabilities.cycles) return "If the value contains a cycle, use serializer 'structured' or 'devalue', which keep cycles.";
  return inResult
    ? 'Return plain data (numbers, strings, arrays, objects, typed arrays) from the task.'
    : 'Send the data the value holds instead, and create the object itself inside the task.';
}
