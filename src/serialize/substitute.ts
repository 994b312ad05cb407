import type { PathStep } from './paths.js';
import { someInGraph } from './walk.js';

/**
 * `value` with its special nodes (wrapped values, functions, class
 * instances: whatever `isSpecial` says) replaced by what `replace` returns.
 * Copy-on-write: only the containers above a special node are copied, so a
 * large array beside it is shared, not rebuilt. A cycle through a special
 * node defeats that (the back-reference still points at the original), and
 * then every container is copied, cycles kept through a memo. Leaves are
 * always shared. `replace` receives the path steps from the root; it may be
 * called twice for one node (once per pass), so it should memoize.
 */
export function substitute(
  value: unknown,
  isSpecial: (value: unknown) => boolean,
  replace: (special: unknown, steps: PathStep[]) => unknown,
): unknown {
  const copy = substitutePass(value, isSpecial, replace, false);
  return someInGraph(copy, isSpecial) ? substitutePass(value, isSpecial, replace, true) : copy;
}

function substitutePass(
  value: unknown,
  isSpecial: (value: unknown) => boolean,
  replace: (special: unknown, steps: PathStep[]) => unknown,
  copyAll: boolean,
): unknown {
  const memo = new Map<object, unknown>();
  const steps: PathStep[] = [];
  const at = (step: PathStep, child: unknown): unknown => {
    // Primitives are neither special nor containers: skip the bookkeeping for them.
    if ((typeof child !== 'object' && typeof child !== 'function') || child === null) return child;
    steps.push(step);
    const out = visit(child);
    steps.pop();
    return out;
  };
  const visit = (v: unknown): unknown => {
    if (isSpecial(v)) return replace(v, steps.slice());
    if (typeof v !== 'object' || v === null) return v;
    if (memo.has(v)) return memo.get(v);
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp || v instanceof Error) return v;
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
  return visit(value);
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
    for (let i = 0; i < v.length; i++) if (i in v) (out as unknown[])[i] = at({ kind: 'index', index: i }, v[i]);
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
  for (let i = 0; i < v.length; i++) {
    const child = v[i];
    // The hot loop of a large payload: primitives (and holes) are skipped without a call.
    if ((typeof child !== 'object' || child === null) && typeof child !== 'function') continue;
    const next = at({ kind: 'index', index: i }, child);
    if (next !== child) (out ??= v.slice())[i] = next;
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
