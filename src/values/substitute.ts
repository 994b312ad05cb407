import type { PathStep } from './paths.js';
import { someInGraph } from './graph.js';
import { isLeafObject } from './kinds.js';
import { copyArray, presentIndices } from './sparse.js';

/**
 * `value` with its special nodes (wrapped values, functions, class
 * instances: whatever `isSpecial` says) replaced by what `replace` returns.
 * Copy-on-write: only the containers above a special node are copied, so a
 * large array beside it is shared, not rebuilt. A cycle through a special
 * node defeats that (the back-reference still points at the original), and
 * then every container is copied, cycles kept through a memo. Leaves are
 * always shared. `replace` receives the path steps from the root; it may be
 * called twice for one node (once per pass), so it should memoize.
 * `shared`: what earlier calls made of each container (and leaf), so that several calls over
 * parts of one graph (each captured variable of a closure) give a container met twice one
 * copy, and the caller knows every object the copies hold (a weak collection's keys).
 */
export function substitute(
  value: unknown,
  isSpecial: (value: unknown) => boolean,
  replace: (special: unknown, steps: PathStep[]) => unknown,
  shared?: Map<object, unknown>,
): unknown {
  let [copy, memo] = substitutePass(value, isSpecial, replace, false, shared);
  if (someInGraph(copy, isSpecial)) [copy, memo] = substitutePass(value, isSpecial, replace, true, shared);
  if (shared) for (const [original, made] of memo) shared.set(original, made);
  return copy;
}

function substitutePass(
  value: unknown,
  isSpecial: (value: unknown) => boolean,
  replace: (special: unknown, steps: PathStep[]) => unknown,
  copyAll: boolean,
  shared: Map<object, unknown> | undefined,
): [unknown, Map<object, unknown>] {
  const memo = new Map<object, unknown>();
  const steps: PathStep[] = [];
  const at = (step: PathStep, child: unknown): unknown => {
    // Primitives are neither special nor containers: skip the bookkeeping for them. A symbol is
    // asked (the closure codec carries unique ones as nodes, with their path if refused).
    if ((typeof child !== 'object' && typeof child !== 'function' && typeof child !== 'symbol') || child === null) return child;
    steps.push(step);
    const out = visit(child);
    steps.pop();
    return out;
  };
  const visit = (v: unknown): unknown => {
    if (isSpecial(v)) return replace(v, steps.slice());
    if (typeof v !== 'object' || v === null) return v;
    if (memo.has(v)) return memo.get(v);
    if (shared?.has(v)) return shared.get(v);
    // A leaf travels as it is; noted all the same, so `shared` tells every object the copy holds.
    if (isLeafObject(v)) {
      memo.set(v, v);
      return v;
    }
    if (copyAll) {
      // The copy exists before its children are visited, so a cycle back to it points at the copy.
      const out = emptyLike(v);
      memo.set(v, out);
      fillCopy(v, out, at);
      return out;
    }
    // While a container is being visited it stands for itself: a cycle back to it keeps the
    // original, which the caller detects and answers with a copyAll pass.
    memo.set(v, v);
    let out: unknown;
    if (Array.isArray(v)) out = substituteArray(v, at);
    else if (v instanceof Map) out = substituteEntries(v, at);
    else if (v instanceof Set) out = substituteSet(v, at);
    else out = substituteObject(v as Record<string, unknown>, at);
    memo.set(v, out);
    return out;
  };
  return [visit(value), memo];
}

type At = (step: PathStep, child: unknown) => unknown;

function emptyLike(v: object): object {
  if (Array.isArray(v)) return new Array(v.length);
  if (v instanceof Map) return new Map();
  if (v instanceof Set) return new Set();
  return Object.create(Object.getPrototypeOf(v)) as object;
}

function fillCopy(v: object, out: object, at: At): void {
  if (Array.isArray(v)) {
    const present = presentIndices(v);
    const n = present ? present.length : v.length;
    for (let j = 0; j < n; j++) {
      const i = present ? present[j]! : j;
      if (i in v) (out as unknown[])[i] = at({ kind: 'index', index: i }, v[i]);
    }
  } else if (v instanceof Map) {
    let position = 0;
    for (const [key, child] of v) (out as Map<unknown, unknown>).set(at({ kind: 'mapKey', position: position++ }, key), at({ kind: 'mapValue', key }, child));
  } else if (v instanceof Set) {
    let position = 0;
    for (const child of v) (out as Set<unknown>).add(at({ kind: 'setItem', position: position++ }, child));
  } else {
    for (const key of Object.keys(v)) setOwn(out, key, at({ kind: 'key', key }, (v as Record<string, unknown>)[key]));
  }
}

function substituteArray(v: unknown[], at: At): unknown[] {
  let out: unknown[] | undefined;
  const present = presentIndices(v);
  const n = present ? present.length : v.length;
  for (let j = 0; j < n; j++) {
    const i = present ? present[j]! : j;
    const child = v[i];
    // The hot loop of a large payload: primitives (and holes) are skipped without a call.
    if ((typeof child !== 'object' || child === null) && typeof child !== 'function' && typeof child !== 'symbol') continue;
    const next = at({ kind: 'index', index: i }, child);
    if (next !== child) (out ??= copyArray(v, present))[i] = next;
  }
  return out ?? v;
}

function substituteEntries(v: Map<unknown, unknown>, at: At): Map<unknown, unknown> {
  const entries: [unknown, unknown][] = [];
  let changed = false;
  let position = 0;
  for (const [key, child] of v) {
    const nextKey = at({ kind: 'mapKey', position: position++ }, key);
    const next = at({ kind: 'mapValue', key }, child);
    changed ||= nextKey !== key || next !== child;
    entries.push([nextKey, next]);
  }
  return changed ? new Map(entries) : v;
}

function substituteSet(v: Set<unknown>, at: At): Set<unknown> {
  const items: unknown[] = [];
  let changed = false;
  let position = 0;
  for (const child of v) {
    const next = at({ kind: 'setItem', position: position++ }, child);
    changed ||= next !== child;
    items.push(next);
  }
  return changed ? new Set(items) : v;
}

function substituteObject(v: Record<string, unknown>, at: At): Record<string, unknown> {
  const keys = Object.keys(v);
  const values = keys.map((key) => at({ kind: 'key', key }, v[key]));
  if (values.every((next, i) => next === v[keys[i]!])) return v;
  const out = Object.create(Object.getPrototypeOf(v)) as Record<string, unknown>;
  keys.forEach((key, i) => setOwn(out, key, values[i]));
  return out;
}


/** An own data property, even for the key `__proto__` (an assignment would call its setter). */
function setOwn(target: object, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else (target as Record<string, unknown>)[key] = value;
}

/** What a replacer returns for a node it leaves alone: the walk enters the node instead. */
export const KEEP: unique symbol = Symbol('joblet.keep');

/**
 * The receiving side of `substitute`: nodes of a freshly decoded value replaced in place.
 * `replace` returns a node's replacement, or KEEP to have the walk enter the node. A
 * replacement that does not exist yet (a node still being rebuilt, in a cycle) arrives
 * later through `assign`. Each container is entered once, so cycles end; `entered` carries
 * that across calls over parts of one value (a container already done is not entered again,
 * and what replaced its nodes is never walked).
 */
export function replaceInPlace(
  root: unknown,
  replace: (node: object, assign: (late: unknown) => void) => unknown,
  entered = new Set<object>(),
): unknown {
  if (typeof root !== 'object' || root === null) return root;
  const top = replace(root, () => undefined);
  // A leaf at the root (a captured typed array) is not entered either: its indices are not nodes.
  if (top !== KEEP || entered.has(root) || isLeafObject(root)) return top === KEEP ? root : top;
  entered.add(root);
  const seen = entered;
  const stack: object[] = [root];
  const at = (child: object, assign: (late: unknown) => void): unknown => {
    const replaced = replace(child, assign);
    if (replaced !== KEEP) return replaced;
    if (!seen.has(child) && !isLeafObject(child)) {
      seen.add(child);
      stack.push(child);
    }
    return child;
  };
  while (stack.length) {
    const v = stack.pop()!;
    if (Array.isArray(v)) {
      const present = presentIndices(v);
      const n = present ? present.length : v.length;
      for (let j = 0; j < n; j++) {
        const i = present ? present[j]! : j;
        const child: unknown = v[i];
        // Numbers and strings dominate large payloads: no call for them.
        if (typeof child === 'object' && child !== null) v[i] = at(child, (late) => (v[i] = late));
      }
    } else if (v instanceof Map) {
      // Keys may be replaced too; rebuilding keeps the entries' order.
      const entries = [...v];
      v.clear();
      for (const [k, child] of entries) {
        const key = typeof k === 'object' && k !== null ? at(k, lateKey) : k;
        v.set(key, typeof child === 'object' && child !== null ? at(child, (late) => v.set(key, late)) : child);
      }
    } else if (v instanceof Set) {
      const items = [...v];
      v.clear();
      for (const item of items) v.add(typeof item === 'object' && item !== null ? at(item, (late) => v.add(late)) : item);
    } else {
      const record = v as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const child = record[key];
        if (typeof child === 'object' && child !== null) record[key] = at(child, (late) => (record[key] = late));
      }
    }
  }
  return root;
}

function lateKey(): never {
  throw new Error('joblet: a Map key that refers back to a value still being rebuilt is not supported');
}

