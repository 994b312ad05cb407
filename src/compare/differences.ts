import { isWorkerGlobal } from '../source/globals.js';
import type { Fingerprint, FunctionPrint, NodePrint, Print, PropPrint } from './fingerprint.js';

/** One thing a round trip changed, at one place (or at several that differ only by array index). */
export interface FidelityDifference {
  /** Where, from the root: `.opts.flag`, `[*].when`, `.fn -> captured 'rate'`; '' for the root itself. */
  path: string;
  /** What happened there: `Date became string`, `captured variable 'rate' lost`. */
  change: string;
  /** The whole sentence, as the table prints it. */
  text: string;
  /** How many places it happened at (paths that differ only by array indices are counted as one). */
  count: number;
}

const MAX_SHOWN_TEXT = 40;

function quote(text: string): string {
  const shown = text.length > MAX_SHOWN_TEXT ? `${text.slice(0, MAX_SHOWN_TEXT)}…` : text;
  return JSON.stringify(shown);
}

function numberText(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

/** A Map key as `.get(...)` shows it. */
function keyText(print: Print): string {
  switch (print.t) {
    case 'string':
      return JSON.stringify(print.v);
    case 'number':
      return numberText(print.v);
    case 'bigint':
      return `${print.v}n`;
    case 'boolean':
      return String(print.v);
    case 'undefined':
    case 'null':
      return print.t;
    default:
      return `<${print.t === 'node' ? 'object' : print.t}>`;
  }
}

/** A path one step deeper; a step after a captured variable reads ` -> .x`, as error paths do. */
function child(path: string, step: string): string {
  return / -> [^.[]+$/.test(path) ? `${path} -> ${step}` : path + step;
}

const shown = (path: string) => path || '<root>';

/**
 * What two fingerprints differ by: the original's (main thread) against the
 * rebuilt value's (worker). Walks both in step from the root, pairing the
 * nodes met at the same path; a node of the original met a second time must
 * meet its partner again, or identity was lost (a cycle, a shared object).
 */
export function findDifferences(original: Fingerprint, rebuilt: Fingerprint): FidelityDifference[] {
  const found: { path: string; change: string }[] = [];
  const partner = new Map<number, number>();
  const partnerOf = new Map<number, number>();
  const firstPath = new Map<number, string>();
  const onPath = new Set<number>();
  const add = (path: string, change: string) => void found.push({ path, change });

  const label = (print: Print, nodes: NodePrint[]): string => {
    switch (print.t) {
      case 'number':
        return Number.isFinite(print.v) && !Object.is(print.v, -0) ? 'number' : numberText(print.v);
      case 'accessor':
        return print.get && print.set ? 'getter and setter' : print.get ? 'getter' : 'setter';
      case 'node':
        return nodeLabel(nodes[print.id]!);
      default:
        return print.t;
    }
  };

  // Explicit stack with exit markers rather than recursion: a deep value must not overflow.
  type Task = { a: Print; b: Print; path: string } | { exit: number } | { path: string; change: string };
  const stack: Task[] = [{ a: original.root, b: rebuilt.root, path: '' }];
  // Children are pushed in reverse so they are compared in order (first paths are the natural ones).
  const later: Task[] = [];
  const compare = (a: Print, b: Print, path: string) => later.push({ a, b, path });
  // A key dropped or added is said in its place among its siblings' differences.
  const addInOrder = (path: string, change: string) => later.push({ path, change });

  while (stack.length) {
    const task = stack.pop()!;
    if ('exit' in task) {
      onPath.delete(task.exit);
      continue;
    }
    if ('change' in task) {
      add(task.path, task.change);
      continue;
    }
    const { a, b, path } = task;
    if (a.t === 'node') {
      const seenAt = firstPath.get(a.id);
      if (seenAt !== undefined) {
        if (b.t === 'node' && b.id === partner.get(a.id)) continue;
        const became = b.t === 'node' ? '' : ` (became ${label(b, rebuilt.nodes)})`;
        if (onPath.has(a.id)) add(path, `${CYCLE_LOST}${became}`);
        else add(path, `shared reference to ${shown(seenAt)} lost${became || ' (now a separate copy)'}`);
        continue;
      }
      firstPath.set(a.id, path);
      if (b.t !== 'node') {
        add(path, `${label(a, original.nodes)} became ${label(b, rebuilt.nodes)}`);
        continue;
      }
      const takenBy = partnerOf.get(b.id);
      if (takenBy !== undefined) {
        add(path, `became the same object as ${shown(firstPath.get(takenBy) ?? '')}`);
        continue;
      }
      partner.set(a.id, b.id);
      partnerOf.set(b.id, a.id);
      onPath.add(a.id);
      compareNodes(original.nodes[a.id]!, rebuilt.nodes[b.id]!, path);
      stack.push({ exit: a.id });
      while (later.length) stack.push(later.pop()!);
      continue;
    }
    compareLeaves(a, b, path);
    while (later.length) stack.push(later.pop()!);
  }

  function compareLeaves(a: Print, b: Print, path: string): void {
    const before = label(a, original.nodes);
    const after = label(b, rebuilt.nodes);
    if (a.t === 'number' && b.t === 'number') {
      if (!Object.is(a.v, b.v)) add(path, `${numberText(a.v)} became ${numberText(b.v)}`);
      return;
    }
    if (a.t !== b.t || before !== after) return add(path, `${before} became ${after}`);
    switch (a.t) {
      case 'string':
        if (a.v !== (b as typeof a).v) add(path, `${quote(a.v)} became ${quote((b as typeof a).v)}`);
        return;
      case 'boolean':
      case 'bigint':
      case 'symbol':
        if (a.v !== (b as typeof a).v) add(path, `${String(a.v)} became ${String((b as typeof a).v)}`);
        return;
      case 'accessor': {
        const other = b as typeof a;
        if (a.get && other.get) compare(a.get, other.get, `${path} (getter)`);
        if (a.set && other.set) compare(a.set, other.set, `${path} (setter)`);
        return;
      }
    }
  }

  function compareNodes(a: NodePrint, b: NodePrint, path: string): void {
    if (a.kind !== b.kind) {
      add(path, `${nodeLabel(a)} became ${nodeLabel(b)}`);
      return;
    }
    if (a.proto !== b.proto) {
      add(path, b.proto === 'Object' && b.kind === 'object' ? `prototype ${a.proto} lost (plain object)` : `prototype ${a.proto} became ${b.proto}`);
    }
    if (a.cls && b.cls) compare(a.cls, b.cls, `${path}.constructor`);
    if (a.content !== b.content) {
      add(path, a.kind === 'Error' ? `message ${quote(a.content ?? '')} became ${quote(b.content ?? '')}` : `${a.kind} ${a.content ?? ''} became ${b.content ?? ''}`);
    }
    compareProps(a.props, b.props, path);
    if (a.items && b.items) {
      const isSet = a.kind === 'Set';
      if (a.items.length !== b.items.length) add(path, `${isSet ? 'size' : 'length'} ${a.items.length} became ${b.items.length}`);
      const n = Math.min(a.items.length, b.items.length);
      for (let i = 0; i < n; i++) compare(a.items[i]!, b.items[i]!, isSet ? `${path}<Set item #${i}>` : `${path}[${i}]`);
    }
    if (a.entries && b.entries) {
      if (a.entries.length !== b.entries.length) add(path, `size ${a.entries.length} became ${b.entries.length}`);
      const n = Math.min(a.entries.length, b.entries.length);
      for (let i = 0; i < n; i++) {
        const [ka, va] = a.entries[i]!;
        const [kb, vb] = b.entries[i]!;
        compare(ka, kb, `${path}<Map key #${i}>`);
        compare(va, vb, `${path}.get(${keyText(ka)})`);
      }
    }
    if (a.fn && b.fn) compareFunctions(a.fn, b.fn, path);
  }

  function compareProps(a: PropPrint[], b: PropPrint[], path: string): void {
    const after = new Map(b.map((p) => [p.step, p.value]));
    for (const { step, value } of a) {
      const there = after.get(step);
      const at = child(path, step);
      if (there === undefined) addInOrder(at, `${label(value, original.nodes)} dropped`);
      else compare(value, there, at);
      after.delete(step);
    }
    for (const [step, value] of after) addInOrder(child(path, step), `${label(value, rebuilt.nodes)} added`);
  }

  function compareFunctions(a: FunctionPrint, b: FunctionPrint, path: string): void {
    if (a.how === 'unreadable') {
      add(path, `captured variables not checked: ${a.note ?? 'they could not be read'}`);
      return;
    }
    if (a.how !== b.how) {
      add(path, b.how === 'unreadable' ? `captured variables unreadable after the trip: ${b.note ?? ''}` : `${a.how} function became ${b.how} function`);
      return;
    }
    if (a.name !== b.name) add(path, `name ${quote(a.name)} became ${quote(b.name)}`);
    if (a.note !== b.note) add(path, `${a.note ?? ''} became ${b.note ?? ''}`);
    if (a.source !== b.source) add(path, 'source changed');
    const after = new Map(b.captures.map((c) => [c.name, c]));
    for (const capture of a.captures) {
      const there = after.get(capture.name);
      const what = capture.module ? `captured import '${capture.name}' (from ${capture.module})` : `captured variable '${capture.name}'`;
      if (!there) {
        // Rebuilt from source in the worker's global scope, the name now means the worker's own global, if any.
        const meaning = isWorkerGlobal(capture.name) ? ` (the name now means the worker's global '${capture.name}')` : '';
        add(path, `${what} lost${meaning}`);
      } else if (capture.value && there.value) {
        compare(capture.value, there.value, `${path} -> captured '${capture.name}'`);
      }
    }
    if (a.thisValue && b.thisValue) compare(a.thisValue, b.thisValue, `${path} -> this`);
    if (a.boundTarget && b.boundTarget) compare(a.boundTarget, b.boundTarget, `${path} -> bound target`);
    if (a.boundArgs && b.boundArgs) {
      if (a.boundArgs.length !== b.boundArgs.length) add(path, `bound arguments ${a.boundArgs.length} became ${b.boundArgs.length}`);
      a.boundArgs.forEach((arg, i) => b.boundArgs![i] && compare(arg, b.boundArgs![i]!, `${path} -> bound argument ${i}`));
    }
    if (a.parent && b.parent) compare(a.parent, b.parent, `${path} -> extends`);
  }

  return group(found);
}

/** How a node reads in `X became Y`: `Map`, `{}`, `object {0, 1, 2}`, `Point instance`, `function`. */
function nodeLabel(node: NodePrint): string {
  switch (node.kind) {
    case 'object': {
      if (node.proto === 'null') return 'null-prototype object';
      if (node.proto !== 'Object') return `${node.proto} instance`;
      if (node.props.length === 0) return '{}';
      const keys = node.props.slice(0, 3).map((p) => p.key);
      return `object {${keys.join(', ')}${node.props.length > 3 ? ', …' : ''}}`;
    }
    case 'function':
      return node.fn?.isClass ? 'class' : 'function';
    case 'Error':
      return node.proto;
    default:
      return node.kind;
  }
}

const CYCLE_LOST = 'cycle lost';

/** The sentence for one difference: `.when: Date became string`, or `cycle at .self lost`. */
function sentence(path: string, change: string): string {
  return change.startsWith(CYCLE_LOST) ? `cycle at ${shown(path)} lost${change.slice(CYCLE_LOST.length)}` : `${shown(path)}: ${change}`;
}

/** The same change at paths that differ only by array indices is said once, with a count. */
function group(found: { path: string; change: string }[]): FidelityDifference[] {
  const groups = new Map<string, FidelityDifference>();
  for (const { path, change } of found) {
    const starred = path.replace(/\[\d+\]/g, '[*]');
    const key = `${starred}\n${change}`;
    const existing = groups.get(key);
    if (existing) {
      existing.count++;
      existing.path = starred;
    } else {
      groups.set(key, { path, change, text: '', count: 1 });
    }
  }
  return [...groups.values()].map((d) => ({ ...d, text: sentence(d.path, d.change) + (d.count > 1 ? `, in ${d.count} places` : '') }));
}
