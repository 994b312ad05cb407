import serializeJavascript from 'serialize-javascript';
import { UnserializableValueError, type Serializer } from '../types.js';
import { commonRejection } from '../rejections.js';
import { deepChainStart, findInGraph, NESTING_LIMIT, someInGraph } from '../../values/graph.js';
import { formatPath } from '../../values/paths.js';
import { describeFunction } from '../../source/functionSource.js';
import { presentIndices } from '../../values/sparse.js';
import { TOO_DEEP_REMEDY, tooDeepProblem } from '../remedies.js';

import { types } from 'node:util';

const decoder = new TextDecoder();

/**
 * serialize-javascript writes a sparse array as `Array.prototype.slice.call({...})`, which the
 * receiver's eval walks index by index: 2^32-1 holes took two minutes of a worker (or of the
 * main thread, for a result). Longer sparse arrays are refused; under this a walk takes ~0.2 s.
 */
const LONGEST_SPARSE = 2 ** 24;
// A Proxy is not looked into (a revoked one throws on Array.isArray): the common rejection names it.
const tooSparse = (v: unknown): v is unknown[] => !types.isProxy(v) && Array.isArray(v) && v.length > LONGEST_SPARSE && presentIndices(v) !== undefined;
const sparseProblem = (array: unknown[]) =>
  `a sparse array of length ${array.length} would be rebuilt hole by hole by serialize-javascript's eval (minutes); 'structured', 'auto' and 'devalue' carry it at the cost of its elements`;

/** Why a value inside a payload cannot travel: a function without source, or a huge sparse array; undefined when it can. */
function valueProblem(v: unknown): string | undefined {
  if (typeof v === 'function') return functionProblem(v);
  return tooSparse(v) ? sparseProblem(v) : undefined;
}

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

const CYCLE_PROBLEM = 'a cycle (an object that contains itself) cannot be written by serialize-javascript';
const CYCLE_REMEDY =
  "Use serializer 'auto' (the default), which keeps cycles and carries functions, or 'structured' or 'devalue' for plain data; " +
  'or send the value without its back-reference and link it again where it arrives.';

/**
 * serialize-javascript writes each Map, Set and sparse array by a call of its own, which cannot
 * see a cycle JSON.stringify would: round a cycle through one it recurses until the stack runs
 * out, writing everything in the cycle again on every turn: a Map that holds itself and 200,000
 * numbers took 230 s of the main thread to fail; one around 1,000 nested Maps 4 s, and 33 s on a
 * worker's larger stack (fuzz case 537 of seed 20261207). So a cycle is refused before the call,
 * a plain object's too (JSON.stringify would refuse it at once): one answer for both. The search
 * for it runs only when the scan reached an object twice.
 */
function cycleRefusal(value: unknown): UnserializableValueError | undefined {
  const cycle = findInGraph(value, (node) => (node.cyclic ? node.path() : undefined));
  if (cycle === undefined) return undefined;
  // Running out of stack, the codec's failure would be laid on the nesting (payload.ts locateFailure):
  // a value that also nests too deep is refused where its nesting begins, as before, without the wait.
  const deep = deepChainStart(value, NESTING_LIMIT);
  if (deep !== undefined) {
    return new UnserializableValueError(
      tooDeepProblem('javascript', 'not tried: the value also holds a cycle, round which serialize-javascript would recurse until the stack ran out'),
      formatPath('', deep),
      `${TOO_DEEP_REMEDY} It also holds a cycle, which 'javascript' cannot write. ${CYCLE_REMEDY}`,
    );
  }
  return new UnserializableValueError(CYCLE_PROBLEM, formatPath('', cycle), CYCLE_REMEDY);
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
    // Catch at submission what would otherwise be a ReferenceError in the worker, or a walk round
    // a cycle. The scan is a tight loop (function descriptions are cached); the path-building
    // walks run only on a hit, or for a cycle when an object was reached twice.
    const unsendable = (v: unknown) => (typeof v === 'function' || tooSparse(v)) && valueProblem(v) !== undefined;
    let metAgain = false;
    const bad = someInGraph(value, unsendable, undefined, () => ((metAgain = true), false)) && findInGraph(value, (node) => {
      const problem = valueProblem(node.value);
      return problem ? { problem, path: node.path() } : undefined;
    });
    if (bad) throw new UnserializableValueError(bad.problem, formatPath('', bad.path));
    const cycle = metAgain ? cycleRefusal(value) : undefined;
    if (cycle) throw cycle;
    // `unsafe` skips escaping for HTML embedding, which is irrelevant between threads and costly.
    return serializeJavascript(value, { unsafe: true });
  },
  deserialize(data) {
    const text = typeof data === 'string' ? data : decoder.decode(data);
    // Indirect eval: global scope, so the rebuilt functions see globals and nothing else.
    return (0, eval)(`(${text}\n)`);
  },
  rejects(value, { cyclic }) {
    if (cyclic) return CYCLE_PROBLEM;
    return valueProblem(value) ?? commonRejection(value);
  },
};
