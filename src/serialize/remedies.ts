import type { Serializer } from './types.js';
import { describeFunction } from '../source/functionSource.js';
import { commonRejection } from './rejections.js';
import { NESTING_LIMIT } from '../values/graph.js';

/**
 * The remedy for a function that uses variables from its enclosing scope,
 * refused by a serializer that sends source only: a serializer that carries
 * captures, wrapping just that function, or passing the values as arguments.
 */
export function capturedVariablesRemedy(
  functionName: string,
  freeVariables: readonly string[],
  isTaskFunction: boolean,
  alreadyWrapped = false,
): string {
  const names = freeVariables.map((n) => `\`${n}\``).join(', ');
  const call = functionName === '<anonymous>' ? 'fn' : functionName;
  const it = freeVariables.length > 1 ? 'them' : 'it';
  const carry = "Use serializer 'auto' (the default) or 'closure', which carry captured variables";
  const wrap = alreadyWrapped ? '' : `, or wrap just this function: wrapNonSerializable(${call})`;
  const pass = isTaskFunction
    ? `; or pass ${names} as argument(s) (delayed(${call})(..., ${freeVariables.join(', ')}))`
    : `; or define ${it} inside the function`;
  return `${carry}${wrap}${pass}.`;
}

/** V8's own limit on one string (about 512 MB): a text codec's whole output must fit in one. */
export function isTooLargeForText(error: unknown): boolean {
  return error instanceof RangeError && /Invalid string length/.test(error.message);
}

/** V8's answer when a recursion ran out of stack: a codec met a value nested deeper than it can write. */
export function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /Maximum call stack size exceeded/.test(error.message);
}

/** Why a value nested deeper than NESTING_LIMIT is refused by `serializer`; `detail`: what the codec did, or would have done. */
export function tooDeepProblem(serializer: string, detail: string): string {
  return `nested more than ${NESTING_LIMIT} levels deep (arrays, objects, Maps or Sets within one another), deeper than ${serializer} can write: it recurses once per level (${detail})`;
}

export const TOO_DEEP_REMEDY =
  'Flatten it: a list of records with the index of their parent, say, instead of a chain of nested ones ' +
  '(a linked list, a deep tree); or build the nesting inside the task from flat data.';

export const TOO_LARGE_FOR_TEXT =
  'the value is too large for a serializer that writes text: its encoding must fit in one string, and V8 limits a string to about 512 MB';

export const TOO_LARGE_REMEDY =
  "Use serializer 'auto' (the default) or 'structured', which write bytes and have no such limit; " +
  'for a large array given to many tasks, sharedArray() or persist() sends it once.';

/**
 * What to do about a value the serializer refused, in one or two sentences.
 * `wrapped` is true when the value already took the wrapNonSerializable path,
 * so suggesting that path again would go in a circle.
 */
export function remedyFor(culprit: unknown, serializer: Serializer, root: string, wrapped = false): string {
  const inResult = root === 'result';
  if (typeof culprit === 'function') {
    const description = describeFunction(culprit);
    if (description.kind === 'source' && description.freeVariables.length) {
      return capturedVariablesRemedy(description.name, description.freeVariables, root === 'fn', wrapped);
    }
    if (inResult) return "Return data, or use serializer 'auto' (the default) or 'closure', which carry functions.";
    if (wrapped) return 'Send a plain function (declaration, expression or arrow) instead, with the values it needs as arguments.';
    return (
      "Use serializer 'auto' (the default), which sends functions by the closure codec and data by structured clone, " +
      'or wrap just this one: wrapNonSerializable(fn).'
    );
  }
  if (typeof culprit === 'bigint') return "Use serializer 'structured' or 'devalue', which carry BigInt.";
  // Proxies, weak collections, promises, symbols: no codec carries these, whatever the serializer.
  if (commonRejection(culprit)) return 'Send the data it holds instead, and create the object itself inside the task.';
  if (typeof culprit === 'object' && culprit !== null) {
    const proto = Object.getPrototypeOf(culprit);
    if (proto && proto !== Object.prototype && proto !== Array.prototype && serializer.name !== 'structured' && !serializer.capabilities.classInstances) {
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
