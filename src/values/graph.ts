import { types } from 'node:util';
import { isLeafObject } from './kinds.js';
import { type PathStep } from './paths.js';
import { presentIndices } from './sparse.js';

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
 */
export function findInGraph<T>(root: unknown, visit: (node: WalkNode) => T | undefined): T | undefined {
  const seen = new Set<object>();
  const stack: Frame[] = [{ value: root, parent: undefined, step: undefined }];
  // Primitive and function children are visited through one reused node, so a
  // large array of numbers allocates no frame, step or closure per element.
  const leaf = new LeafNode();
  while (stack.length) {
    const frame = stack.pop()!;
    const { value } = frame;
    if (!isContainer(value)) {
      const found = visit({ value, cyclic: false, path: () => pathOf(frame) });
      if (found !== undefined) return found;
      continue;
    }
    const revisit = seen.has(value);
    const found = visit({ value, cyclic: revisit && isAncestor(frame, value), path: () => pathOf(frame) });
    if (found !== undefined) return found;
    if (revisit) continue;
    seen.add(value);
    if (isLeafObject(value)) continue;
    const inner = visitChildren(frame, value, stack, visit, leaf);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

class LeafNode implements WalkNode {
  value: unknown = undefined;
  readonly cyclic = false;
  parent: Frame | undefined = undefined;
  index = 0;
  key: string | undefined = undefined;

  at(value: unknown, parent: Frame, index: number, key: string | undefined): this {
    this.value = value;
    this.parent = parent;
    this.index = index;
    this.key = key;
    return this;
  }

  path(): PathStep[] {
    const step: PathStep = this.key === undefined ? { kind: 'index', index: this.index } : { kind: 'key', key: this.key };
    return [...pathOf(this.parent!), step];
  }
}

function visitChildren<T>(
  frame: Frame,
  object: object,
  stack: Frame[],
  visit: (node: WalkNode) => T | undefined,
  leaf: LeafNode,
): T | undefined {
  // Container children are pushed in reverse so that they are entered in reading order.
  const containers: Frame[] = [];
  if (Array.isArray(object)) {
    const present = presentIndices(object);
    const n = present ? present.length : object.length;
    for (let j = 0; j < n; j++) {
      const i = present ? present[j]! : j;
      const child: unknown = object[i];
      if (isContainer(child)) containers.push({ value: child, parent: frame, step: { kind: 'index', index: i } });
      else {
        const found = visit(leaf.at(child, frame, i, undefined));
        if (found !== undefined) return found;
      }
    }
  } else if (object instanceof Map) {
    let position = 0;
    for (const [key, child] of object) {
      containers.push({ value: key, parent: frame, step: { kind: 'mapKey', position } });
      containers.push({ value: child, parent: frame, step: { kind: 'mapValue', key } });
      position++;
    }
  } else if (object instanceof Set) {
    let position = 0;
    for (const child of object) containers.push({ value: child, parent: frame, step: { kind: 'setItem', position: position++ } });
  } else {
    for (const key of Object.keys(object)) {
      const child = (object as Record<string, unknown>)[key];
      if (isContainer(child)) containers.push({ value: child, parent: frame, step: { kind: 'key', key } });
      else {
        const found = visit(leaf.at(child, frame, 0, key));
        if (found !== undefined) return found;
      }
    }
  }
  for (let i = containers.length - 1; i >= 0; i--) stack.push(containers[i]!);
  return undefined;
}

/**
 * Fast yes/no scan: is there an object or function for which `test` is
 * true? Primitives are never tested (no caller looks for one), so a
 * 1,000,000-number array costs one tight loop of typeof checks, no call per
 * element. An object is tested when the walk reaches it (depth first), so a
 * scan that finds something early does not first test every sibling. No
 * paths, no frames: use `findInGraph` afterwards to locate the node for an
 * error message. `symbol`, when given, is asked of every symbol met as a
 * value (a caller that must know whether a structured clone would fail).
 * `metAgain`, when given, is asked of an object each time it is reached
 * again: shared by two parents, or a cycle (findInGraph's `cyclic` tells which).
 */
export function someInGraph(root: unknown, test: (value: object) => boolean, symbol?: (value: symbol) => boolean, metAgain?: (value: object) => boolean): boolean {
  if (typeof root === 'function') return test(root);
  if (typeof root === 'symbol') return symbol !== undefined && symbol(root);
  if (typeof root !== 'object' || root === null) return false;
  // Seen is checked when an object is reached, not when it is queued: a scan that stops early
  // pays no Set insert for the siblings it never reaches.
  const seen = new Set<object>();
  const stack: object[] = [root];
  const push = (child: object): void => void stack.push(child);
  const visitChild = symbol === undefined ? visitObjectChild : (child: unknown, test: (value: object) => boolean, push: (child: object) => void): boolean =>
    typeof child === 'symbol' ? symbol(child) : visitObjectChild(child, test, push);
  while (stack.length) {
    const object = stack.pop()!;
    if (seen.has(object)) {
      if (metAgain !== undefined && metAgain(object)) return true;
      continue;
    }
    seen.add(object);
    if (test(object)) return true;
    // No walk enters a Proxy: its contents are its handler's code (and a revoked one throws).
    if (types.isProxy(object)) continue;
    if (Array.isArray(object)) {
      const present = presentIndices(object);
      if (present) {
        for (const i of present) if (visitChild(object[i], test, push)) return true;
        continue;
      }
      for (let i = 0; i < object.length; i++) {
        const child: unknown = object[i];
        // Numbers first: a loop that meets a number before an object otherwise keeps mixed type feedback, about twice as slow.
        if (typeof child === 'number') continue;
        if (typeof child === 'object' && child !== null) stack.push(child);
        else if (typeof child === 'function' && test(child)) return true;
        else if (typeof child === 'symbol' && symbol !== undefined && symbol(child)) return true;
      }
    } else if (object instanceof Map) {
      for (const [key, child] of object) if (visitChild(key, test, push) || visitChild(child, test, push)) return true;
    } else if (object instanceof Set) {
      for (const child of object) if (visitChild(child, test, push)) return true;
    } else if (!isLeafObject(object)) {
      for (const key of Object.keys(object)) if (visitChild((object as Record<string, unknown>)[key], test, push)) return true;
    }
  }
  return false;
}

/** A child met by someInGraph: a function is tested now, an object queued, a primitive skipped. */
function visitObjectChild(child: unknown, test: (value: object) => boolean, push: (child: object) => void): boolean {
  if (typeof child === 'function') return test(child);
  if (typeof child === 'object' && child !== null) push(child);
  return false;
}

/**
 * Levels of nesting a value shared for a run may have, and past which a codec's stack overflow is
 * laid on the value's nesting (payload.ts locateFailure). V8's structured clone (the transport's
 * copy of a shared value) and every codec joblet has recurse once per level of arrays, objects,
 * Maps and Sets, and throw a bare RangeError (no path, no value) when the stack runs out: at about
 * 1,900 levels of plain objects on Node 20's default stack, 3,200 of arrays, and 1,600 for
 * devalue. Half the least of those leaves room for the frames below the call.
 */
export const NESTING_LIMIT = 1000;

/** The containers `object` holds, in the order a recursive encoder writes them (Proxies and leaf objects hold none here). */
function containersIn(object: object, each: (child: object, step: () => PathStep) => void): void {
  if (isLeafObject(object)) return;
  if (Array.isArray(object)) {
    const present = presentIndices(object);
    const n = present ? present.length : object.length;
    for (let j = 0; j < n; j++) {
      const i = present ? present[j]! : j;
      const child: unknown = object[i];
      if (typeof child === 'object' && child !== null) each(child, () => ({ kind: 'index', index: i }));
    }
  } else if (object instanceof Map) {
    let position = 0;
    for (const [key, child] of object) {
      const at = position++;
      if (typeof key === 'object' && key !== null) each(key, () => ({ kind: 'mapKey', position: at }));
      if (typeof child === 'object' && child !== null) each(child, () => ({ kind: 'mapValue', key }));
    }
  } else if (object instanceof Set) {
    let position = 0;
    for (const child of object) {
      const at = position++;
      if (typeof child === 'object' && child !== null) each(child, () => ({ kind: 'setItem', position: at }));
    }
  } else {
    for (const key of Object.keys(object)) {
      const child = (object as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) each(child, () => ({ kind: 'key', key }));
    }
  }
}

interface DepthFrame {
  value: object;
  depth: number;
  parent: DepthFrame | undefined;
  step: (() => PathStep) | undefined;
}

/**
 * The path to the first container nested more than `levels` containers below `root`, met in the
 * order a recursive encoder meets it (depth first, in reading order, each object once: an encoder
 * writes an object it met before as a back-reference); undefined when none is. Iterative: it
 * measures values no recursion could walk.
 */
export function deeperThan(root: unknown, levels: number): PathStep[] | undefined {
  if (typeof root !== 'object' || root === null) return undefined;
  const seen = new Set<object>();
  const stack: DepthFrame[] = [{ value: root, depth: 0, parent: undefined, step: undefined }];
  const children: DepthFrame[] = [];
  while (stack.length) {
    const frame = stack.pop()!;
    if (seen.has(frame.value)) continue;
    seen.add(frame.value);
    if (frame.depth > levels) {
      const steps: PathStep[] = [];
      for (let f: DepthFrame | undefined = frame; f?.step; f = f.parent) steps.push(f.step());
      return steps.reverse();
    }
    containersIn(frame.value, (child, step) => void children.push({ value: child, depth: frame.depth + 1, parent: frame, step }));
    // Pushed in reverse, so that they are entered in reading order.
    while (children.length) stack.push(children.pop()!);
  }
  return undefined;
}

/**
 * `deeperThan` as a yes/no, joined to someInGraph's scan: is there an object or function for
 * which `test` is true, a symbol for which `symbol` is, or a container nested more than `levels`
 * deep? One walk for the check made on every large argument: no frames, no paths, no closure per
 * child. Children are pushed last first, so that they are entered in reading order, as a
 * recursive encoder enters them (an object met again is not entered again: it is a back-reference).
 */
export function someInGraphOrDeeper(root: unknown, levels: number, test: (value: object) => boolean = never, symbol: (value: symbol) => boolean = never): boolean {
  if (typeof root === 'function') return test(root);
  if (typeof root === 'symbol') return symbol(root);
  if (typeof root !== 'object' || root === null) return false;
  const seen = new Set<object>();
  const objects: object[] = [root];
  const depths: number[] = [0];
  const held: object[] = [];
  // A child: a function or a symbol is tested now, an object held to be pushed, a primitive skipped.
  const child = (value: unknown, into: object[]): boolean => {
    if (typeof value === 'object') {
      if (value !== null) into.push(value);
      return false;
    }
    return typeof value === 'function' ? test(value) : typeof value === 'symbol' && symbol(value);
  };
  while (objects.length) {
    const object = objects.pop()!;
    const depth = depths.pop()!;
    if (seen.has(object)) continue;
    seen.add(object);
    if (depth > levels || test(object)) return true;
    // No walk enters a Proxy: its contents are its handler's code (and a revoked one throws).
    if (isLeafObject(object)) continue;
    if (Array.isArray(object)) {
      const present = presentIndices(object);
      const n = present ? present.length : object.length;
      for (let j = 0; j < n; j++) {
        const value: unknown = object[present ? present[j]! : j];
        if (typeof value !== 'number' && child(value, held)) return true;
      }
    } else if (object instanceof Map) {
      for (const [key, value] of object) if (child(key, held) || child(value, held)) return true;
    } else if (object instanceof Set) {
      for (const value of object) if (child(value, held)) return true;
    } else {
      for (const key of Object.keys(object)) if (child((object as Record<string, unknown>)[key], held)) return true;
    }
    while (held.length) objects.push(held.pop()!), depths.push(depth + 1);
  }
  return false;
}

const never = () => false;

/** A container nested more than `levels` deep in `root` (deeperThan, as a yes/no). */
export const nestsDeeperThan = (root: unknown, levels: number): boolean => someInGraphOrDeeper(root, levels);

/**
 * Where the first chain nested more than `levels` containers deep begins (`deeperThan`, cut by
 * `chainStart`): the path an error names; undefined when nothing nests that deep.
 */
export function deepChainStart(root: unknown, levels: number): PathStep[] | undefined {
  const deep = deeperThan(root, levels);
  return deep && chainStart(root, deep);
}

/**
 * Where a chain of nesting found by `deeperThan` begins: the path cut below the last container on
 * it that holds more than one container (`args[0][1352006178]`, not a thousand `.get("d")`), so
 * an error names the value to flatten.
 */
export function chainStart(root: unknown, steps: readonly PathStep[]): PathStep[] {
  let cut = 0;
  let node: unknown = root;
  for (let i = 0; i < steps.length; i++) {
    if (typeof node !== 'object' || node === null) break;
    let count = 0;
    try {
      containersIn(node, () => void count++);
    } catch {
      break;
    }
    if (count > 1) cut = i + 1;
    node = stepInto(node, steps[i]!);
  }
  return steps.slice(0, cut);
}

function stepInto(node: object, step: PathStep): unknown {
  switch (step.kind) {
    case 'index':
      return (node as unknown[])[step.index];
    case 'key':
      return (node as Record<string, unknown>)[step.key];
    case 'mapKey':
      return [...(node as Map<unknown, unknown>).keys()][step.position];
    case 'mapValue':
      return (node as Map<unknown, unknown>).get(step.key);
    case 'setItem':
      return [...(node as Set<unknown>)][step.position];
  }
}
