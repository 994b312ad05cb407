import serializeJavascript from 'serialize-javascript';
import { UnserializableValueError, type Serializer } from '../types.js';
import { commonRejection } from '../rejections.js';
import { findInGraph, someInGraph } from '../../values/graph.js';
import { formatPath } from '../../values/paths.js';
import { describeFunction } from '../../source/functionSource.js';

const decoder = new TextDecoder();

/** Why a function inside a value cannot travel as source, or undefined when it can. */
function functionProblem(fn: Function): string | undefined {
  const description = describeFunction(fn);
  if (description.kind === 'unsupported') return `function \`${description.name}\` cannot be sent: ${description.reason}`;
  if (description.kind === 'global') return `function \`${description.name}\` is a built-in and has no source to send`;
  if (description.freeVariables.length) {
    const names = description.freeVariables.map((n) => `\`${n}\``).join(', ');
    return `function \`${description.name}\` uses ${names} from its enclosing scope, and 'javascript' sends functions as source only`;
  }
  return undefined;
}

/**
 * serialize-javascript: JavaScript source text that rebuilds the value when
 * evaluated. Carries functions as their source (no captured variables),
 * Date, RegExp, Map, Set, BigInt, undefined, Infinity and sparse arrays.
 * Loses some: NaN becomes null, -0 becomes 0, typed arrays become
 * index-keyed objects, ArrayBuffer becomes {}, class instances lose their
 * prototype. Slow on large data, refuses cycles, and deserializing evaluates
 * code: accept payloads only from a trusted sender (joblet's own workers).
 */
export const javascriptSerializer: Serializer = {
  name: 'javascript',
  capabilities: { functions: true, closures: false, cycles: false, classInstances: false, binary: false },
  serialize(value) {
    // Catch at submission what would otherwise be a ReferenceError in the worker. The scan is
    // a tight loop (function descriptions are cached); the path-building walk runs only on a hit.
    const unsendable = (v: unknown) => typeof v === 'function' && functionProblem(v) !== undefined;
    const bad = someInGraph(value, unsendable) && findInGraph(value, (node) => {
      if (typeof node.value !== 'function') return undefined;
      const problem = functionProblem(node.value);
      return problem ? { problem, path: node.path() } : undefined;
    });
    if (bad) throw new UnserializableValueError(bad.problem, formatPath('', bad.path));
    // `unsafe` skips escaping for HTML embedding, which is irrelevant between threads and costly.
    return serializeJavascript(value, { unsafe: true });
  },
  deserialize(data) {
    const text = typeof data === 'string' ? data : decoder.decode(data);
    // Indirect eval: global scope, so the rebuilt functions see globals and nothing else.
    return (0, eval)(`(${text}\n)`);
  },
  rejects(value, { cyclic }) {
    if (cyclic) return 'a cycle (an object that contains itself) cannot be written by serialize-javascript';
    if (typeof value === 'function') return functionProblem(value);
    return commonRejection(value);
  },
};
