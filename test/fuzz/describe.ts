/**
 * A canonical text for a value graph, made the same way on the main thread and in the worker
 * that rebuilt it: two values are equal for the fuzzer when their texts are. Objects are
 * numbered in the order met (so shared references and cycles are part of the text), a Proxy
 * is named and never entered, a getter is described and never called, an array is walked by
 * its elements (Object.keys), not its length (2^32-1), and nothing recurses (a value nested
 * 100,000 deep is described like a long list). Large strings and binary contents appear as
 * their length and digest.
 */
import { createHash } from 'node:crypto';
import { types } from 'node:util';
import { presentIndices } from '../../src/values/sparse.js';

const digest = (data: string | Uint8Array) => createHash('sha1').update(data).digest('base64url').slice(0, 12);
const numberText = (n: number) => (Object.is(n, -0) ? '-0' : String(n));
const stringText = (s: string) => (s.length > 200 ? `string(${s.length} chars, ${digest(s)})` : JSON.stringify(s));
const symbolText = (s: symbol) => `${Symbol.keyFor(s) !== undefined ? 'Symbol.for' : 'Symbol'}(${s.description ?? ''})`;

function protoName(value: object): string {
  const proto: object | null = Object.getPrototypeOf(value);
  if (proto === null) return 'null';
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  return typeof ctor === 'function' ? ctor.name || 'anonymous' : 'anonymous';
}

/**
 * `loose`: the losses 'auto' documents for data (it goes by structured clone): a getter's value
 * instead of the getter (a throwing getter throws here too), and no frozen flag.
 */
export function describe(value: unknown, { loose = false } = {}): string {
  const ids = new Map<object, number>();
  const queue: object[] = [];
  const lines: string[] = [];

  const print = (v: unknown): string => {
    switch (typeof v) {
      case 'undefined':
        return 'undefined';
      case 'boolean':
        return String(v);
      case 'number':
        return numberText(v);
      case 'string':
        return stringText(v);
      case 'bigint':
        return `${v}n`;
      case 'symbol':
        return symbolText(v);
    }
    if (v === null) return 'null';
    let id = ids.get(v as object);
    if (id === undefined) {
      id = ids.size;
      ids.set(v as object, id);
      queue.push(v as object);
    }
    return `#${id}`;
  };

  const props = (object: object): string => {
    const out: string[] = [];
    for (const key of Reflect.ownKeys(object)) {
      if (Array.isArray(object) && typeof key === 'string' && (key === 'length' || String(Number(key) >>> 0) === key)) continue;
      const d = Object.getOwnPropertyDescriptor(object, key);
      if (!d?.enumerable) continue;
      const k = typeof key === 'symbol' ? `[${symbolText(key)}]` : JSON.stringify(key);
      if ('value' in d) out.push(`${k}: ${print(d.value)}`);
      else if (loose) out.push(`${k}: ${print(d.get?.call(object))}`);
      else out.push(`${k}: accessor(get ${d.get ? print(d.get) : '-'}, set ${d.set ? print(d.set) : '-'})`);
    }
    return out.length ? ` {${out.join(', ')}}` : '';
  };

  const describeNode = (o: object): string => {
    if (types.isProxy(o)) return 'Proxy';
    const head = `${protoName(o)}${!loose && Object.isFrozen(o) && !ArrayBuffer.isView(o) ? ' frozen' : ''}`;
    if (typeof o === 'function') return `function ${JSON.stringify(Function.prototype.toString.call(o))} ${head}${props(o)}`;
    if (Array.isArray(o)) {
      const present = presentIndices(o);
      const items: string[] = [];
      if (present) for (const i of present) items.push(`${i}: ${print(o[i])}`);
      else for (let i = 0; i < o.length; i++) items.push(i in o ? print(o[i]) : 'hole');
      return `array(${o.length}) ${head} [${items.join(', ')}]${props(o)}`;
    }
    if (types.isDate(o)) {
      const time = Date.prototype.getTime.call(o);
      return `Date ${Number.isNaN(time) ? 'invalid' : new Date(time).toISOString()} ${head}${props(o)}`;
    }
    if (types.isRegExp(o)) return `RegExp /${(o as RegExp).source}/${(o as RegExp).flags} ${head}${props(o)}`;
    if (types.isMap(o)) return `Map ${head} [${[...Map.prototype.entries.call(o)].map(([k, v]) => `${print(k)} => ${print(v)}`).join(', ')}]${props(o)}`;
    if (types.isSet(o)) return `Set ${head} [${[...Set.prototype.values.call(o)].map(print).join(', ')}]${props(o)}`;
    if (types.isNativeError(o)) {
      const message = Object.getOwnPropertyDescriptor(o, 'message')?.value;
      return `Error ${JSON.stringify(String(message))} ${head}${props(o)}`;
    }
    if (ArrayBuffer.isView(o)) {
      const bytes = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
      return `${Object.prototype.toString.call(o).slice(8, -1)}(${o.byteLength} bytes, ${digest(bytes)}) ${head}`;
    }
    if (types.isAnyArrayBuffer(o)) return `ArrayBuffer(${o.byteLength} bytes, ${digest(new Uint8Array(o))})`;
    return `object ${head}${props(o)}`;
  };

  lines.push(print(value));
  for (let at = 0; at < queue.length; at++) lines.push(`#${at} ${describeNode(queue[at]!)}`);
  return lines.join('\n');
}

/** Where two descriptions first differ, with a little context: the failure's message. */
export function firstDifference(expected: string, got: string): string {
  const a = expected.split('\n');
  const b = got.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i}: expected ${(a[i] ?? '<none>').slice(0, 300)}\n  got ${(b[i] ?? '<none>').slice(0, 300)}`;
  }
  return 'equal';
}
