import { SerializationError, type SerializationPhase } from '../errors.js';
import { UnserializableValueError, type Serializer } from './types.js';
import { findInGraph, someInGraph } from './walk.js';
import { formatPath, joinPath, type PathStep } from './paths.js';
import { remedyFor } from './remedies.js';
import { anyWrapped, isWrapped } from './wrap.js';

/**
 * A wrapped value inside a payload travels as a reference to a blob encoded
 * once by the fallback serializer. The placeholder is a plain one-key object
 * so that every data codec can carry it.
 */
export const REF_KEY = '__jobletRef';

export interface EncodeContext {
  serializer: Serializer;
  /** Name of the root in error paths: 'args' or 'result'. */
  root: string;
  phase: SerializationPhase;
  taskIndex?: number | undefined;
  /** Turns a wrapped value (and its path, for errors) into a reference id; absent where nothing can be wrapped. */
  refer?: ((wrapped: unknown, path: string) => string) | undefined;
}

export interface EncodedValue {
  data: Uint8Array | string;
  /** Ids of the wrapped values the payload refers to. */
  refs: string[];
}

/** Serialize `value`, replacing wrapped values with references, or throw a SerializationError naming the path. */
export function encodeValue(value: unknown, context: EncodeContext): EncodedValue {
  const { serializer, refer } = context;
  const mayHoldWrapped = refer !== undefined && anyWrapped();
  // A codec that refuses proxies finds wrapped values itself on the first attempt; others need the scan first.
  if (mayHoldWrapped && !serializer.refusesProxies && someInGraph(value, isWrapped)) {
    return encodeWithReferences(value, context);
  }
  try {
    return { data: serializer.serialize(value), refs: [] };
  } catch (error) {
    if (mayHoldWrapped && someInGraph(value, isWrapped)) return encodeWithReferences(value, context);
    throw locateFailure(error, value, context);
  }
}

function encodeWithReferences(value: unknown, context: EncodeContext): EncodedValue {
  const refs = new Set<string>();
  const copy = substituteWrapped(value, (wrapped, steps) => {
    const id = context.refer!(wrapped, formatPath(context.root, steps));
    refs.add(id);
    return { [REF_KEY]: id };
  });
  try {
    return { data: context.serializer.serialize(copy), refs: [...refs] };
  } catch (error) {
    throw locateFailure(error, copy, context);
  }
}

/** Turn whatever a codec threw into a SerializationError with the culprit's path and a remedy. */
export function locateFailure(error: unknown, value: unknown, context: EncodeContext): SerializationError {
  if (error instanceof SerializationError) return error;
  const { serializer, root } = context;
  let path = root;
  let problem = error instanceof Error ? error.message : String(error);
  let culprit: unknown;
  let known = false;
  if (error instanceof UnserializableValueError) {
    path = joinPath(root, error.path);
    known = true;
  }
  if (serializer.rejects) {
    const found = findInGraph(value, (node) => {
      const reason = serializer.rejects!(node.value, { cyclic: node.cyclic });
      return reason === undefined ? undefined : { reason, node: node.value, steps: node.path() };
    });
    if (found) {
      culprit = found.node;
      if (!known) {
        path = formatPath(root, found.steps);
        problem = found.reason;
      }
    }
  }
  return new SerializationError({
    phase: context.phase,
    path,
    serializer: serializer.name,
    problem: `Cannot serialize: ${problem}`,
    remedy: remedyFor(culprit, serializer, root),
    taskIndex: context.taskIndex,
    cause: error,
  });
}

/**
 * A copy of `value` with wrapped values replaced. Containers are copied
 * (cycles and shared references kept through a memo); leaves are shared.
 * Runs only on the slow path, when something is wrapped.
 */
function substituteWrapped(value: unknown, replace: (wrapped: unknown, steps: PathStep[]) => unknown): unknown {
  const memo = new Map<object, unknown>();
  const steps: PathStep[] = [];
  const at = (step: PathStep, child: unknown): unknown => {
    steps.push(step);
    const out = visit(child);
    steps.pop();
    return out;
  };
  const visit = (v: unknown): unknown => {
    if (isWrapped(v)) return replace(v, steps.slice());
    if (typeof v !== 'object' || v === null) return v;
    if (memo.has(v)) return memo.get(v);
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp || v instanceof Error) return v;
    if (Array.isArray(v)) {
      const out: unknown[] = new Array(v.length);
      memo.set(v, out);
      for (let i = 0; i < v.length; i++) if (i in v) out[i] = at({ kind: 'index', index: i }, v[i]);
      return out;
    }
    if (v instanceof Map) {
      const out = new Map();
      memo.set(v, out);
      let position = 0;
      for (const [key, child] of v) {
        out.set(at({ kind: 'mapKey', position: position++ }, key), at({ kind: 'mapValue', key }, child));
      }
      return out;
    }
    if (v instanceof Set) {
      const out = new Set();
      memo.set(v, out);
      let position = 0;
      for (const child of v) out.add(at({ kind: 'setItem', position: position++ }, child));
      return out;
    }
    const out = Object.create(Object.getPrototypeOf(v)) as Record<string, unknown>;
    memo.set(v, out);
    for (const key of Object.keys(v)) out[key] = at({ kind: 'key', key }, (v as Record<string, unknown>)[key]);
    return out;
  };
  return visit(value);
}

function isReference(value: unknown): value is Record<typeof REF_KEY, string> {
  if (typeof value !== 'object' || value === null) return false;
  const id = (value as Record<string, unknown>)[REF_KEY];
  return typeof id === 'string' && Object.keys(value).length === 1;
}

/** Replace reference placeholders in a freshly decoded value, in place. */
export function resolveReferences(value: unknown, lookup: (id: string) => unknown): unknown {
  if (isReference(value)) return lookup(value[REF_KEY]);
  const seen = new Set<object>();
  const visit = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (isReference(child)) v[i] = lookup(child[REF_KEY]);
        else visit(child);
      }
    } else if (v instanceof Map) {
      for (const [key, child] of v) {
        if (isReference(child)) v.set(key, lookup(child[REF_KEY]));
        else visit(child);
      }
    } else if (v instanceof Set) {
      for (const child of [...v]) {
        if (isReference(child)) {
          v.delete(child);
          v.add(lookup(child[REF_KEY]));
        } else visit(child);
      }
    } else if (!ArrayBuffer.isView(v)) {
      const record = v as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const child = record[key];
        if (isReference(child)) record[key] = lookup(child[REF_KEY]);
        else visit(child);
      }
    }
  };
  visit(value);
  return value;
}

/** Deserialize, or throw a SerializationError for the given phase. */
export function decodeValue(
  data: Uint8Array | string,
  serializer: Serializer,
  context: { phase: SerializationPhase; root: string; taskIndex?: number | undefined },
): unknown {
  try {
    return serializer.deserialize(data);
  } catch (error) {
    throw new SerializationError({
      phase: context.phase,
      path: context.root,
      serializer: serializer.name,
      problem: `Cannot deserialize: ${error instanceof Error ? error.message : String(error)}`,
      remedy:
        'Bytes written by one serializer must be read by the same one; a custom serializer must also be ' +
        'registered in the worker (registerSerializer(s, { module })).',
      taskIndex: context.taskIndex,
      cause: error,
    });
  }
}
