import { createHash } from 'node:crypto';
import { parseFunctionSource, type SourceForm } from './freeVariables.js';
import { intrinsicPath } from './intrinsics.js';

/**
 * How a function travels: as its source text, or, for a built-in such as
 * `Math.max`, as its path from `globalThis` (built-ins have no source).
 */
export type FunctionDescription =
  | { kind: 'source'; id: string; name: string; source: string; form: SourceForm; freeVariables: string[] }
  | { kind: 'global'; id: string; name: string; path: string }
  | { kind: 'unsupported'; name: string; reason: string };

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

/** A built-in function's path from globalThis (by identity: a user function named `max` is not Math.max). */
function findGlobalPath(fn: Function): string | undefined {
  const path = intrinsicPath(fn);
  return path !== undefined && typeof fn === 'function' ? path : undefined;
}

const hash = (text: string) => createHash('sha1').update(text).digest('base64url');
const described = new WeakMap<Function, FunctionDescription>();

/** Describe a function once per function object (a run submits the same one many times). */
export function describeFunction(fn: Function): FunctionDescription {
  const hit = described.get(fn);
  if (hit) return hit;
  const result = describeUncached(fn);
  described.set(fn, result);
  return result;
}

/**
 * A function's name for messages, without running user code: a `name` getter
 * (or a Proxy) could throw, and the message about the function must not.
 */
export function nameOf(fn: Function): string {
  try {
    const own = Object.getOwnPropertyDescriptor(fn, 'name');
    return own && typeof own.value === 'string' && own.value !== '' ? own.value : '<anonymous>';
  } catch {
    return '<anonymous>';
  }
}

function describeUncached(fn: Function): FunctionDescription {
  const name = nameOf(fn);
  const source = Function.prototype.toString.call(fn);
  if (NATIVE.test(source)) {
    const path = findGlobalPath(fn);
    if (path) return { kind: 'global', id: `g:${path}`, name, path };
    const bound = name.startsWith('bound ');
    return {
      kind: 'unsupported',
      name,
      reason: bound
        ? 'it is a bound function, whose target and bound arguments have no source'
        : 'it is a native function that is not a known global, so it has no source to send',
    };
  }
  const parsed = parseFunctionSource(source);
  if (!parsed) return { kind: 'unsupported', name, reason: 'its source text does not parse as a function' };
  return { kind: 'source', id: `f:${hash(`${parsed.form}\n${source}`)}`, name, source, form: parsed.form, freeVariables: parsed.freeVariables };
}
