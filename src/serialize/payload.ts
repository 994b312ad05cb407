import { randomBytes } from 'node:crypto';
import { SerializationError, type SerializationPhase } from '../errors.js';
import { UnserializableValueError, type Serializer } from './types.js';
import { deepChainStart, findInGraph, NESTING_LIMIT, someInGraph } from '../values/graph.js';
import { formatPath, joinPath, type PathStep } from '../values/paths.js';
import { KEEP, replaceInPlace, substitute } from '../values/substitute.js';
import { isStackOverflow, isTooLargeForText, remedyFor, tooDeepProblem, TOO_DEEP_REMEDY, TOO_LARGE_FOR_TEXT, TOO_LARGE_REMEDY } from './remedies.js';
import { anyReferenceInUse } from '../values/byReference.js';
import type { EncodeSession } from '../values/session.js';

/**
 * A wrapped value inside a payload travels as a reference to a blob encoded
 * once by the fallback serializer. The placeholder is a plain one-key object,
 * so that every data codec can carry it, and its key holds a random nonce
 * made once per process and sent with the task, so user data that happens to
 * look like a placeholder is never mistaken for one.
 */
export const REF_KEY = `__jobletRef_${randomBytes(9).toString('base64url')}`;

export interface EncodeContext {
  serializer: Serializer;
  /** Name of the root in error paths: 'args' or 'result'. */
  root: string;
  phase: SerializationPhase;
  taskIndex?: number | undefined;
  /** True when encoding a value that was wrapped with wrapNonSerializable (remedies must not suggest wrapping it). */
  wrapped?: boolean;
  /** Turns a special value (and its path, for errors) into a reference id; absent where nothing is special. */
  refer?: ((special: unknown, path: string) => string) | undefined;
  /** Which values `refer` takes (by-reference values: wrapped, persisted, shared, large arguments). */
  isSpecial?: ((value: object) => boolean) | undefined;
  /** The run's encode session, handed to the serializer (values/session.ts). */
  session?: EncodeSession | undefined;
  /** Scan for special values before the first attempt (some special values do not make a codec fail). */
  scanFirst?: boolean;
}

const nothingSpecial = () => false;

/** `serializer.serialize(value)`, within the run's session for a codec of joblet's own (Serializer.serializeInSession). */
export function serializeIn(serializer: Serializer, value: unknown, session: EncodeSession | undefined): Uint8Array | string {
  return session !== undefined && serializer.serializeInSession ? serializer.serializeInSession(value, session) : serializer.serialize(value);
}

export interface EncodedValue {
  data: Uint8Array | string;
  /** Ids of the wrapped values the payload refers to. */
  refs: string[];
}

/**
 * What `encodeValue` would serialize, without serializing: the value with its
 * special values replaced by references (copy-on-write), and their ids. Used to
 * encode a whole batch in one call.
 */
export function prepareValue(value: unknown, context: EncodeContext): { value: unknown; refs: string[] } {
  const special = context.isSpecial ?? nothingSpecial;
  if (context.refer === undefined || !(anyReferenceInUse() || context.scanFirst) || !someInGraph(value, special)) return { value, refs: [] };
  const refs = new Set<string>();
  const replace = (found: unknown, steps: PathStep[]) => {
    const id = context.refer!(found, formatPath(context.root, steps));
    refs.add(id);
    return { [REF_KEY]: id };
  };
  return { value: substitute(value, (v) => (typeof v === 'object' || typeof v === 'function' ? v !== null && special(v as object) : false), replace), refs: [...refs] };
}

/** Serialize `value`, replacing wrapped values with references, or throw a SerializationError naming the path. */
export function encodeValue(value: unknown, context: EncodeContext): EncodedValue {
  const { serializer, refer } = context;
  const special = context.isSpecial ?? nothingSpecial;
  const mayHoldSpecial = refer !== undefined && (anyReferenceInUse() || context.scanFirst === true);
  // A codec that refuses proxies finds wrapped values itself on the first attempt; other special
  // values (a persisted handle, a large argument) do not make a codec fail: scan for them first.
  if (mayHoldSpecial && (context.scanFirst || !serializer.refusesProxies) && someInGraph(value, special)) {
    return encodeWithReferences(value, context, special);
  }
  try {
    return { data: serializeIn(serializer, value, context.session), refs: [] };
  } catch (error) {
    if (mayHoldSpecial && someInGraph(value, special)) return encodeWithReferences(value, context, special);
    throw locateFailure(error, value, context);
  }
}

function encodeWithReferences(value: unknown, context: EncodeContext, special: (value: object) => boolean): EncodedValue {
  const refs = new Set<string>();
  const replace = (found: unknown, steps: PathStep[]) => {
    const id = context.refer!(found, formatPath(context.root, steps));
    refs.add(id);
    return { [REF_KEY]: id };
  };
  const copy = substitute(value, (v) => typeof v === 'object' || typeof v === 'function' ? v !== null && special(v as object) : false, replace);
  try {
    return { data: serializeIn(context.serializer, copy, context.session), refs: [...refs] };
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
  let unreadable = false;
  if (error instanceof UnserializableValueError) {
    path = joinPath(root, error.path);
    known = true;
  }
  // Not a value the codec refuses: the whole encoding outgrew a string. No walk finds a culprit.
  if (isTooLargeForText(error)) {
    return new SerializationError({
      phase: context.phase,
      path,
      serializer: serializer.name,
      problem: `Cannot serialize: ${TOO_LARGE_FOR_TEXT}`,
      remedy: TOO_LARGE_REMEDY,
      taskIndex: context.taskIndex,
      cause: error,
    });
  }
  // The codec recursed past the stack: a value nested too deeply. The walk that measures nesting
  // does not recurse; it names where the chain begins.
  if (isStackOverflow(error)) {
    let start: string | undefined;
    try {
      const deep = deepChainStart(value, NESTING_LIMIT);
      if (deep) start = formatPath(root, deep);
    } catch {
      // Reading the value threw (a getter): the overflow is reported as the codec threw it, at the root.
    }
    if (start !== undefined) {
      return new SerializationError({
        phase: context.phase,
        path: start,
        serializer: serializer.name,
        problem: `Cannot serialize: ${tooDeepProblem(serializer.name, problem)}`,
        remedy: TOO_DEEP_REMEDY,
        taskIndex: context.taskIndex,
        cause: error,
      });
    }
  }
  if (serializer.rejects) {
    let found: { reason: string; node: unknown; steps: PathStep[] } | undefined;
    try {
      found = findInGraph(value, (node) => {
        const reason = serializer.rejects!(node.value, { cyclic: node.cyclic });
        if (reason === undefined) return undefined;
        const steps = node.path();
        // The codec named its culprit: the remedy must be about that one, not the first value
        // `rejects` dislikes (a class instance refused at `.point` is not the function at `.fn`).
        if (known && formatPath(root, steps) !== path) return undefined;
        return { reason, node: node.value, steps };
      });
    } catch {
      // Reading the value threw (a getter): report the codec's own error at the root.
      unreadable = true;
    }
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
    remedy: unreadable
      ? 'Reading the value threw (a getter?): send plain data, read into plain objects before submitting.'
      : error instanceof UnserializableValueError && error.remedy
        ? error.remedy
        : remedyFor(culprit, serializer, root, context.wrapped),
    taskIndex: context.taskIndex,
    cause: error,
  });
}

/**
 * Replace reference placeholders in a freshly decoded value, in place.
 * `key` is the placeholder key the sender used (see REF_KEY).
 */
export function resolveReferences(value: unknown, key: string, lookup: (id: string) => unknown): unknown {
  return replaceInPlace(value, (node) => {
    const id = (node as Record<string, unknown>)[key];
    return typeof id === 'string' && Object.keys(node).length === 1 ? lookup(id) : KEEP;
  });
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
      // Written on a thread with a larger stack than the reader's (a worker thread's 4 MB, a process's 1 MB): too deep to rebuild here.
      remedy: isStackOverflow(error)
        ? `The value is nested too deeply to be rebuilt here. ${TOO_DEEP_REMEDY}`
        : 'Bytes written by one serializer must be read by the same one; a custom serializer must also be ' +
          'registered in the worker (registerSerializer(s, { module })).',
      taskIndex: context.taskIndex,
      cause: error,
    });
  }
}
