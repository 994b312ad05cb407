/**
 * What every encoding of one run shares, passed explicitly to the calls
 * that need it (never a module-level variable set around a call): the
 * caches a codec keeps per run (the closure codec's captures, so that a
 * function submitted with 10,000 tasks is captured once), and the
 * by-reference values met inside encoded graphs, which must travel as defs
 * beside the bytes (a Counter captured by a closure).
 */
export class EncodeSession {
  readonly #caches = new Map<symbol, unknown>();
  /** By-reference values met inside graphs: the run sends them as defs ahead of what refers to them. */
  readonly companions = new Set<object>();
  /**
   * Set by the run's task encoder while it encodes a task function, when its Parallel keeps
   * copies of large binary values: a large typed array, DataView or ArrayBuffer the function
   * captured goes as that copy (a def beside the bytes, added to `companions`), and the graph
   * holds a by-reference node in its place: `accepts` says which values, `keep` gives the node.
   */
  keepLarge: { accepts(value: object): boolean; keep(value: object, path: string): { kind: string; state: unknown } } | undefined = undefined;

  /** The cache `key` names, made on first use. */
  cache<T>(key: symbol, make: () => T): T {
    let value = this.#caches.get(key) as T | undefined;
    if (value === undefined) this.#caches.set(key, (value = make()));
    return value;
  }

  /** What `cache` made under `key`, if anything yet: a question that makes nothing. */
  cached<T>(key: symbol): T | undefined {
    return this.#caches.get(key) as T | undefined;
  }
}
