import { relative, sep } from 'node:path';
import type { Graph, NodeRecord } from './graph.js';
import { REQUIRE_BINDING } from './modules.js';

/**
 * What a closure payload carries by reference (the worker finds it: a
 * module export, a global, a shared value) and what by value (copied: a
 * function's source with its captures, an object). compareSerializers and
 * `joblet compare` show it, so a user sees that lodash travels as lodash and
 * not as a copy of its code. Read from the graph's node table: one line per
 * node, with the same lines counted.
 */
export interface Carried {
  /** `memoize of lodash`, `Object.prototype.hasOwnProperty`, `persisted value`, each with `×n` when repeated. */
  byReference: string[];
  /** `function score (captures weights)`, `instance of Point`, each with `×n` when repeated. */
  byValue: string[];
}

type How = ['reference' | 'value', string];

/**
 * One line per node kind; the mapped type makes a new kind in graph.ts fail to compile until
 * it says how it travels.
 */
const DESCRIBE: { [T in NodeRecord['t']]: (record: Extract<NodeRecord, { t: T }>, nameOf: (marker: unknown) => string | undefined) => How } = {
  fn: (record) => {
    const what = record.cid !== undefined && record.source.startsWith('class') ? 'class' : 'function';
    const names = Object.keys(record.vars);
    return ['value', `${what} ${record.name || '(anonymous)'}${names.length ? ` (captures ${names.join(', ')})` : ''}`];
  },
  scope: (record) => ['value', `shared scope (${Object.keys(record.vars).join(', ')})`],
  classref: () => ['reference', 'class already sent to the worker'],
  bound: () => ['value', 'bound function'],
  module: (record) => ['reference', moduleLine(record.specifier, record.binding)],
  global: (record) => ['reference', record.path],
  symbol: (record) => ['reference', record.wellKnown ? `Symbol.${record.wellKnown}` : `Symbol.for(${JSON.stringify(record.registered)})`],
  ref: (record) => ['reference', `${record.kind} value`],
  weak: (record) => ['value', `${record.kind} entries of the values sent (private state)`],
  intl: (record) => ['value', `Intl.${record.ctor} by its options`],
  built: () => ['value', "object made again by its package's constructor from its definition"],
  object: (record, nameOf) => {
    const cls = nameOf(record.cls);
    if (cls) return ['value', `instance of ${cls}`];
    return ['value', record.base ? `${record.base[0]} subclass instance` : 'object with its own prototype'];
  },
};

/** What the graph carries, by reference and by value. */
export function describeCarried(graph: Graph): Carried {
  const counts = { reference: new Map<string, number>(), value: new Map<string, number>() };
  const nameOf = (marker: unknown): string | undefined => {
    const at = typeof marker === 'object' && marker !== null ? (marker as Record<string, unknown>)[graph.mark] : undefined;
    const record = typeof at === 'number' ? graph.nodes[at] : undefined;
    return record?.t === 'fn' ? record.name || undefined : undefined;
  };
  for (const record of graph.nodes) {
    const [how, what] = (DESCRIBE[record.t] as (record: NodeRecord, nameOf: (marker: unknown) => string | undefined) => How)(record, nameOf);
    counts[how].set(what, (counts[how].get(what) ?? 0) + 1);
  }
  const lines = (map: Map<string, number>) => [...map].map(([what, n]) => (n > 1 ? `${what} ×${n}` : what));
  return { byReference: lines(counts.reference), byValue: lines(counts.value) };
}

/** `memoize of lodash`, `the module lodash`, `default of ./lib/rates.js`: the package's own name where there is one. */
function moduleLine(specifier: string, binding: string): string {
  const marker = `${sep}node_modules${sep}`;
  const at = specifier.lastIndexOf(marker);
  const where =
    at >= 0 ? specifier.slice(at + marker.length) : specifier.startsWith(sep) ? `.${sep}${relative(process.cwd(), specifier)}` : specifier;
  if (binding === 'module' || binding === 'namespace') return `the module ${where}`;
  if (binding === REQUIRE_BINDING) return `require of ${where}`;
  return `${binding} of ${where}`;
}
