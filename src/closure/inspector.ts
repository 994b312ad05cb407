import inspector from 'node:inspector';

/**
 * A synchronous view of this thread's own V8 inspector. In the main thread
 * (and in workers) `Session.post` runs its callback before returning, so a
 * capture is an ordinary function call. One capture costs a few hundred
 * microseconds: callers cache per function object and per run.
 */
export interface RemoteObject {
  type: string;
  subtype?: string;
  className?: string;
  value?: unknown;
  unserializableValue?: string;
  description?: string;
  objectId?: string;
}

interface PropertyDescriptor {
  name: string;
  value?: RemoteObject;
}

const GROUP = 'joblet-capture';
const SLOT = `__jobletInspectorSlot_${process.pid}`;

let session: inspector.Session | undefined;
let scriptUrls: Map<string, string> | undefined;
let listening = false;

function open(): inspector.Session {
  if (session) return session;
  const s = new inspector.Session();
  s.connect();
  session = s;
  return s;
}

export function post<T>(method: string, params: object = {}): T {
  let result: T | undefined;
  let failure: Error | null = null;
  let answered = false;
  open().post(method, params, (error, value) => {
    failure = error;
    result = value as T;
    answered = true;
  });
  if (!answered) throw new Error(`joblet: the inspector answered ${method} asynchronously; closures cannot be captured in this thread`);
  if (failure) throw failure;
  return result as T;
}

/** Listen to an inspector event (delivered synchronously, during the post that causes it). */
export function onEvent(method: string, listener: (params: unknown) => void): void {
  open().on(method, (message: { params: unknown }) => listener(message.params));
}

/** A remote handle on a live value, valid until `release()`. */
export function handleOf(value: unknown): string {
  const slot = globalThis as Record<string, unknown>;
  slot[SLOT] = value;
  try {
    const { result } = post<{ result: RemoteObject }>('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(SLOT)}]`, objectGroup: GROUP });
    if (!result.objectId) throw new Error('joblet: the inspector gave no handle for an object');
    return result.objectId;
  } finally {
    delete slot[SLOT];
  }
}

/** The live value behind a remote object (identity kept for objects and functions). */
export function valueOf(remote: RemoteObject): unknown {
  if (remote.type === 'undefined') return undefined;
  if (remote.unserializableValue !== undefined) {
    const text = remote.unserializableValue;
    if (text.endsWith('n')) return BigInt(text.slice(0, -1));
    return text === '-0' ? -0 : Number(text);
  }
  if (!remote.objectId) return remote.value;
  // `this` inside the called function is the real object; strict mode keeps primitives unboxed.
  post('Runtime.callFunctionOn', {
    objectId: remote.objectId,
    functionDeclaration: `function () { 'use strict'; globalThis[${JSON.stringify(SLOT)}] = this; }`,
  });
  const slot = globalThis as Record<string, unknown>;
  const value = slot[SLOT];
  delete slot[SLOT];
  return value;
}

export interface InternalProperties {
  location?: { scriptId: string; lineNumber: number; columnNumber: number };
  scopes?: string;
  boundTarget?: RemoteObject;
  boundThis?: RemoteObject;
  boundArgs?: RemoteObject;
}

export function internalsOf(objectId: string): InternalProperties {
  const { internalProperties = [] } = post<{ internalProperties?: PropertyDescriptor[] }>('Runtime.getProperties', { objectId, ownProperties: true });
  const out: InternalProperties = {};
  for (const property of internalProperties) {
    const value = property.value;
    if (!value) continue;
    if (property.name === '[[FunctionLocation]]') out.location = value.value as InternalProperties['location'];
    else if (property.name === '[[Scopes]]') out.scopes = value.objectId;
    else if (property.name === '[[TargetFunction]]') out.boundTarget = value;
    else if (property.name === '[[BoundThis]]') out.boundThis = value;
    else if (property.name === '[[BoundArgs]]') out.boundArgs = value;
  }
  return out;
}

export interface Scope {
  /** 'Closure', 'Block', 'Script', 'Module', 'Global', ... */
  kind: string;
  variables: Map<string, RemoteObject>;
}

/** A function's scope chain, innermost first, without the global scope. */
export function scopesOf(scopesId: string): Scope[] {
  const { result } = post<{ result: PropertyDescriptor[] }>('Runtime.getProperties', { objectId: scopesId, ownProperties: true });
  const scopes: Scope[] = [];
  for (const entry of result) {
    const id = entry.value?.objectId;
    const kind = (entry.value?.description ?? '').split(' ')[0] ?? '';
    if (!id || kind === 'Global') continue;
    const { result: variables } = post<{ result: PropertyDescriptor[] }>('Runtime.getProperties', { objectId: id, ownProperties: true });
    scopes.push({ kind, variables: new Map(variables.filter((v) => v.value).map((v) => [v.name, v.value!])) });
  }
  return scopes;
}

/** Free the remote handles made since the last release. */
export function release(): void {
  held.clear();
  if (session) post('Runtime.releaseObjectGroup', { objectGroup: GROUP });
}

/**
 * A function's handle and internal properties, read once until the next release: the encoder
 * asks where a function is defined just before it captures it, and the capture reuses the read.
 */
export function functionInternals(fn: Function): { id: string; internals: InternalProperties } {
  let read = held.get(fn);
  if (!read) {
    const id = handleOf(fn);
    held.set(fn, (read = { id, internals: internalsOf(id) }));
  }
  return read;
}
const held = new Map<Function, { id: string; internals: InternalProperties }>();

/**
 * How long the debugger stays enabled after its last use. While it is enabled, V8 reports the
 * life of every promise to it, which made a single-task round trip about 1.5 µs slower (17.2
 * against 18.4-19.1 µs p50, one CPU); enabling it again costs a pass over every loaded script
 * (about 20 ms in a small program), so it is not switched off between captures close together.
 */
const DEBUGGER_IDLE_MS = 1_000;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

function debuggerUsed(): void {
  if (idleTimer) idleTimer.refresh();
  else (idleTimer = setTimeout(disableDebugger, DEBUGGER_IDLE_MS)).unref();
}

function disableDebugger(): void {
  idleTimer = undefined;
  if (!scriptUrls) return;
  scriptUrls = undefined;
  post('Debugger.disable');
}

/** Enable the debugger (if it is not) for at least DEBUGGER_IDLE_MS more. */
export function ensureDebugger(): void {
  scriptUrl('');
}

/**
 * Ask V8 to terminate the JavaScript running now. Posted from a pause inside a
 * `Runtime.evaluate`, the termination ends that evaluation as the pause ends, and the inspector
 * cancels it when the evaluation returns (its caller goes on); `done` is called then.
 */
export function requestTermination(done: () => void): void {
  open().post('Runtime.terminateExecution', () => done());
}

/** The URL of a script by its id (file:///..., node:..., or '' for eval'd code). */
export function scriptUrl(scriptId: string): string {
  if (!scriptUrls) {
    const urls = new Map<string, string>();
    scriptUrls = urls;
    // Enabling the debugger reports every script already loaded, synchronously, then each new one.
    if (!listening) open().on('Debugger.scriptParsed', (message) => scriptUrls?.set(message.params.scriptId, message.params.url));
    listening = true;
    post('Debugger.enable');
  }
  debuggerUsed();
  return scriptUrls.get(scriptId) ?? '';
}

/** Scripts' text by id (a script's text never changes; lodash's is half a megabyte, so it is fetched once). */
const sources = new Map<string, string>();

export function scriptSource(scriptId: string): string {
  let source = sources.get(scriptId);
  if (source === undefined) {
    scriptUrl(scriptId);
    source = post<{ scriptSource: string }>('Debugger.getScriptSource', { scriptId }).scriptSource;
    sources.set(scriptId, source);
  }
  return source;
}

/** Scripts' text and line starts, by id (a script's text never changes): read once per script. */
const scriptTexts = new Map<string, { text: string; lineStarts: number[] }>();

/**
 * Where `source` (a function's text) starts in its script, as a 0-based line and column:
 * V8's [[FunctionLocation]] names the parameters, not the start of the text, so the text is
 * found around it. Undefined when the script's text does not hold it.
 */
export function sourceStart(scriptId: string, lineNumber: number, columnNumber: number, source: string): { line: number; column: number } | undefined {
  let script = scriptTexts.get(scriptId);
  if (!script) {
    const text = scriptSource(scriptId);
    const lineStarts = [0];
    for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lineStarts.push(at + 1);
    scriptTexts.set(scriptId, (script = { text, lineStarts }));
  }
  const lineStart = script.lineStarts[lineNumber];
  if (lineStart === undefined) return undefined;
  const start = script.text.lastIndexOf(source, lineStart + columnNumber);
  if (start < 0 || start + source.length < lineStart + columnNumber) return undefined;
  let line = lineNumber;
  while (script.lineStarts[line]! > start) line--;
  return { line, column: start - script.lineStarts[line]! };
}

/** One scope of a function's chain, materialized by the inspector: its kind and its variables as a plain object. */
export interface ScopeObject {
  /** 'Closure (runInContext)', 'Module', 'Global', ... */
  description: string;
  object: Record<string, unknown>;
}

/**
 * A function's whole scope chain, innermost first, in three inspector round trips: the
 * inspector's scope list is handed to a function here, which takes it as it is (every
 * variable's value by identity), rather than one request per scope and per variable.
 */
export function scopeObjectsOf(fn: Function): ScopeObject[] {
  // A group of its own: a capture in progress holds handles in GROUP that must outlive this.
  const group = 'joblet-scopes';
  const slot = globalThis as Record<string, unknown>;
  try {
    slot[SLOT] = fn;
    const { result } = post<{ result: RemoteObject }>('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(SLOT)}]`, objectGroup: group });
    delete slot[SLOT];
    if (!result.objectId) return [];
    const { internalProperties = [] } = post<{ internalProperties?: PropertyDescriptor[] }>('Runtime.getProperties', { objectId: result.objectId, ownProperties: true });
    const scopes = internalProperties.find((p) => p.name === '[[Scopes]]')?.value?.objectId;
    if (!scopes) return [];
    post('Runtime.callFunctionOn', {
      objectId: scopes,
      functionDeclaration: `function () { 'use strict'; globalThis[${JSON.stringify(SLOT)}] = Array.from(this); }`,
    });
    const list = (slot[SLOT] ?? []) as ScopeObject[];
    return list.filter((scope) => scope && typeof scope.object === 'object' && scope.object !== null);
  } finally {
    delete slot[SLOT];
    post('Runtime.releaseObjectGroup', { objectGroup: group });
  }
}

/** A bound function's target and `this`, read in a group of its own (see scopeObjectsOf). */
export function boundPartsOf(fn: Function): { target: unknown; thisArg: unknown } | undefined {
  const group = 'joblet-scopes';
  const slot = globalThis as Record<string, unknown>;
  try {
    slot[SLOT] = fn;
    const { result } = post<{ result: RemoteObject }>('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(SLOT)}]`, objectGroup: group });
    delete slot[SLOT];
    if (!result.objectId) return undefined;
    const internals = internalsOf(result.objectId);
    if (!internals.boundTarget) return undefined;
    return { target: valueOf(internals.boundTarget), thisArg: internals.boundThis ? valueOf(internals.boundThis) : undefined };
  } finally {
    delete slot[SLOT];
    post('Runtime.releaseObjectGroup', { objectGroup: group });
  }
}

/**
 * An object's own #private fields, by name (`#total`), with their values: no JavaScript outside
 * the class can read them, the inspector lists them. Private methods are the class's and are
 * not listed; private accessors (a get/set pair, no value) are the class's too and are skipped.
 */
export function privateFields(object: object): [string, unknown][] {
  return privateState(object).fields;
}

/**
 * An object's own #private fields, and whether it bears the brand of a class with private
 * methods or accessors: the inspector lists the accessors, and the methods as one internal
 * `[[PrivateMethods]]` list. An object with a class's prototype that its constructor did not
 * make (`Object.create(C.prototype)`) has neither.
 */
export function privateState(object: object): { fields: [string, unknown][]; branded: boolean } {
  try {
    const { privateProperties = [], internalProperties = [] } = post<{ privateProperties?: PropertyDescriptor[]; internalProperties?: PropertyDescriptor[] }>('Runtime.getProperties', {
      objectId: handleOf(object),
      ownProperties: true,
    });
    return {
      fields: privateProperties.filter((p) => p.value).map((p) => [p.name, valueOf(p.value!)]),
      branded: privateProperties.some((p) => !p.value) || internalProperties.some((p) => p.name === '[[PrivateMethods]]'),
    };
  } finally {
    release();
  }
}
