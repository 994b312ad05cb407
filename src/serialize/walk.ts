import { type PathStep } from './paths.js';

/**
 * Depth-first walk over a value graph: arrays, plain objects, class
 * instances, Maps and Sets. Leaves (primitives, Dates, typed arrays, ...)
 * are visited but not entered. Each object is entered once, so cycles end.
 *
 * The walk is iterative (no stack overflow on deep lists) and builds paths
 * only when `visit` asks for one, so scanning a large array of numbers costs
 * a loop, not a string per element.
 */
export interface WalkNode {
  value: unknown;
  /** True when this object already appears above it on the current path. */
  cyclic: boolean;
  path(): PathStep[];
}

interface Frame {
  value: unknown;
  parent: Frame | undefined;
  step: PathStep | undefined;
}

function isLeafObject(value: object): boolean {
  return (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer) ||
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof Error ||
    value instanceof Promise
  );
}

function pathOf(frame: Frame): PathStep[] {
  const steps: PathStep[] = [];
  for (let f: Frame | undefined = frame; f?.step; f = f.parent) steps.push(f.step);
  return steps.reverse();
}

function isAncestor(frame: Frame, value: unknown): boolean {
  for (let f = frame.parent; f; f = f.parent) if (f.value === value) return true;
  return false;
}

/**
 * Calls `visit` for every node; stops at the first node for which it
 * returns something other than undefined, and returns that.
 * `enter(value)` may return false to skip a container's children.
 */
export function findInGraph<T>(
  root: unknown,
  visit: (node: WalkNode) => T | undefined,
  enter: (value: object) => boolean = () => true,
): T | undefined {
  const seen = new Set<object>();
  const stack: Frame[] = [{ value: root, parent: undefined, step: undefined }];
  while (stack.length) {
    const frame = stack.pop()!;
    const { value } = frame;
    const isObject = (typeof value === 'object' && value !== null) || typeof value === 'function';
    const revisit = isObject && seen.has(value as object);
    const found = visit({ value, cyclic: revisit && isAncestor(frame, value), path: () => pathOf(frame) });
    if (found !== undefined) return found;
    if (!isObject || revisit || typeof value === 'function') continue;
    const object = value as object;
    seen.add(object);
    if (isLeafObject(object) || !enter(object)) continue;
    pushChildren(frame, object, stack);
  }
  return undefined;
}

function pushChildren(frame: Frame, object: object, stack: Frame[]): void {
  // Children are pushed in reverse so that the walk reports the first culprit in reading order.
  const children: Frame[] = [];
  if (Array.isArray(object)) {
    for (let i = 0; i < object.length; i++) {
      const child: unknown = object[i];
      // Primitives cannot contain anything: skip the frame unless the visitor must see it.
      children.push({ value: child, parent: frame, step: { kind: 'index', index: i } });
    }
  } else if (object instanceof Map) {
    let position = 0;
    for (const [key, child] of object) {
      children.push({ value: key, parent: frame, step: { kind: 'mapKey', position } });
      children.push({ value: child, parent: frame, step: { kind: 'mapValue', key } });
      position++;
    }
  } else if (object instanceof Set) {
    let position = 0;
    for (const child of object) children.push({ value: child, parent: frame, step: { kind: 'setItem', position: position++ } });
  } else {
    for (const key of Object.keys(object)) {
      children.push({ value: (object as Record<string, unknown>)[key], parent: frame, step: { kind: 'key', key } });
    }
  }
  for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
}

/**
 * Fast yes/no scan: is there a node for which `test` is true? No paths and
 * no frames, so a 1,000,000-number array costs one tight loop. Use
 * `findInGraph` afterwards to locate the node for an error message.
 */
export function someInGraph(root: unknown, test: (value: unknown) => boolean): boolean {
  if (test(root)) return true;
  if (typeof root !== 'object' || root === null) return false;
  const seen = new Set<object>();
  const stack: object[] = [root];
  const check = (child: unknown): boolean => {
    if (test(child)) return true;
    if (typeof child === 'object' && child !== null && !seen.has(child)) stack.push(child);
    return false;
  };
  while (stack.length) {
    const object = stack.pop()!;
    if (seen.has(object)) continue;
    seen.add(object);
    if (isLeafObject(object)) continue;
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) if (check(object[i])) return true;
    } else if (object instanceof Map) {
      for (const [key, child] of object) if (check(key) || check(child)) return true;
    } else if (object instanceof Set) {
      for (const child of object) if (check(child)) return true;
    } else {
      for (const key of Object.keys(object)) if (check((object as Record<string, unknown>)[key])) return true;
    }
  }
  return false;
}
