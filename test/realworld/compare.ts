/**
 * Deep comparison of a worker's answer with the main thread's. Values come
 * back through a serializer, so identity and realm differ: Maps, Sets, Dates,
 * RegExps, typed arrays, Errors and class instances are compared by content,
 * a class instance also by its constructor's name. Returns the first
 * difference in words, or undefined when the two are the same.
 */
export function difference(expected: unknown, actual: unknown, at = 'result'): string | undefined {
  if (Object.is(expected, actual)) return undefined;
  const te = typeOf(expected);
  const ta = typeOf(actual);
  if (te !== ta) return `${at}: expected ${te} ${show(expected)}, got ${ta} ${show(actual)}`;
  if (te !== 'object' && te !== 'function') return `${at}: expected ${show(expected)}, got ${show(actual)}`;
  if (te === 'function') {
    const fe = expected as Function;
    const fa = actual as Function;
    return fe.name === fa.name ? undefined : `${at}: expected function ${fe.name}, got function ${fa.name}`;
  }
  const e = expected as object;
  const a = actual as object;
  const ce = ctorName(e);
  const ca = ctorName(a);
  if (ce !== ca) return `${at}: expected an instance of ${ce}, got ${ca}`;
  if (e instanceof Date || a instanceof Date) {
    return Object.prototype.toString.call(a) === '[object Date]' && (e as Date).getTime() === (a as Date).getTime() ? undefined : `${at}: expected ${show(e)}, got ${show(a)}`;
  }
  if (isRegExp(e)) return String(e) === String(a) && (e as RegExp).lastIndex === (a as RegExp).lastIndex ? undefined : `${at}: expected ${String(e)}, got ${String(a)}`;
  if (ArrayBuffer.isView(e)) {
    const ve = [...new Uint8Array(e.buffer, e.byteOffset, e.byteLength)];
    const va = ArrayBuffer.isView(a) ? [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)] : undefined;
    return va && ve.length === va.length && ve.every((b, i) => b === va[i]) ? undefined : `${at}: typed arrays differ`;
  }
  if (isMap(e)) {
    const me = e as Map<unknown, unknown>;
    const ma = a as Map<unknown, unknown>;
    if (!isMap(a) || me.size !== ma.size) return `${at}: expected a Map of ${me.size}, got ${show(a)}`;
    const ea = [...me];
    const aa = [...ma];
    for (let i = 0; i < ea.length; i++) {
      const d = difference(ea[i]![0], aa[i]![0], `${at} key #${i}`) ?? difference(ea[i]![1], aa[i]![1], `${at}.get(${show(ea[i]![0])})`);
      if (d) return d;
    }
    return undefined;
  }
  if (isSet(e)) {
    const se = [...(e as Set<unknown>)];
    if (!isSet(a)) return `${at}: expected a Set, got ${show(a)}`;
    const sa = [...(a as Set<unknown>)];
    if (se.length !== sa.length) return `${at}: expected a Set of ${se.length}, got ${sa.length}`;
    for (let i = 0; i < se.length; i++) {
      const d = difference(se[i], sa[i], `${at} item #${i}`);
      if (d) return d;
    }
    return undefined;
  }
  if (e instanceof Error || isError(e)) {
    const ee = e as Error;
    const ea = a as Error;
    if (ee.name !== ea.name || ee.message !== ea.message) return `${at}: expected ${ee.name}: ${ee.message}, got ${ea.name}: ${ea.message}`;
  }
  if (Array.isArray(e) !== Array.isArray(a)) return `${at}: expected ${show(e)}, got ${show(a)}`;
  const ke = Object.keys(e);
  const ka = Object.keys(a);
  if (ke.join() !== ka.join()) return `${at}: expected keys [${ke.join()}], got [${ka.join()}]`;
  for (const key of ke) {
    const d = difference((e as Record<string, unknown>)[key], (a as Record<string, unknown>)[key], Array.isArray(e) ? `${at}[${key}]` : `${at}.${key}`);
    if (d) return d;
  }
  return undefined;
}

const tag = (v: object) => Object.prototype.toString.call(v);
const isMap = (v: object) => tag(v) === '[object Map]';
const isSet = (v: object) => tag(v) === '[object Set]';
const isRegExp = (v: object) => tag(v) === '[object RegExp]';
const isError = (v: object) => tag(v) === '[object Error]';

function typeOf(v: unknown): string {
  return v === null ? 'null' : typeof v;
}

/** The constructor's name, read without trusting a getter: 'Object' for plain and null-prototype objects. */
function ctorName(v: object): string {
  const proto = Object.getPrototypeOf(v);
  if (proto === null) return 'Object';
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  return typeof ctor === 'function' && ctor.name ? ctor.name : 'Object';
}

export function show(v: unknown): string {
  let text: string;
  try {
    text = typeof v === 'bigint' ? `${v}n` : typeof v === 'function' ? `[function ${v.name}]` : v instanceof Map || v instanceof Set ? `${v.constructor.name}(${v.size})` : (JSON.stringify(v) ?? String(v));
  } catch {
    text = String(v);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
