import inspector from 'node:inspector';
import { ensureDebugger, onEvent, post, requestTermination, scopeObjectsOf, type RemoteObject } from './inspector.js';

/**
 * Whether functions hold one binding, proven by writing into it: the inspector's [[Scopes]] are
 * copies, so equal values there prove nothing, and V8 lets a debugger write a closure's variable
 * only in a paused frame. So the probe pauses at the entry of one of the functions, before its
 * first statement, writes a fresh object into the binding from that frame, reads each other
 * function's [[Scopes]] (the ones that show the object hold the same binding), writes the value
 * back, and ends the call there: the pause asks V8 to terminate the evaluation that made the call,
 * which the inspector ends where that evaluation returns, so not one statement of the function
 * runs. It costs about a millisecond, where a heap snapshot (the other exact witness) costs
 * seconds in a large program.
 *
 * Safety: the call is made only after a `debugger` statement of the probe has paused in the same
 * evaluation (so pauses are delivered now), only on a function whose parameters are plain names
 * (no default value or pattern runs before the first statement), and never while a debugger of
 * the user's may be attached (its pause would be the user's to resume). The one value written is
 * read back before the pause ends.
 */

type Pause = { callFrames: { callFrameId: string; scopeChain: { type: string; object: RemoteObject }[] }[]; hitBreakpoints?: string[] };

const GROUP = 'joblet-probe';
const SLOT = `__jobletProbe_${process.pid}`;
let onPause: ((pause: Pause) => void) | undefined;
let listening = false;

/** Why a probe could not run (a refusal says it), or undefined when it can. */
export function probeUnavailable(): string | undefined {
  if (inspector.url() !== undefined || inspectFlagged()) return 'a debugger may be attached to this process (--inspect), whose pauses joblet does not take';
  return undefined;
}

/**
 * Whether the process was started to be debugged: in a worker thread inspector.url() says nothing,
 * yet DevTools attaches to workers by itself, and its session would hold the probe's pause.
 */
function inspectFlagged(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((flag) => /^--inspect(-brk|-wait)?(=|$)/.test(flag));
}

/** Index, in a list of scopes without the global one, of the scope `depth` levels from the outermost. */
const atDepth = (length: number, depth: number) => length - depth;

/**
 * For each of `others`, whether it holds the binding `name` that `fn` holds at `depth` (levels
 * from the outermost non-global scope, as capture.ts keys a site). `fn` must be enterable (see
 * ParsedFunction.enterable). Undefined when the probe could not run; it then changed nothing.
 */
export function sharesBinding(fn: Function, name: string, depth: number, others: Function[]): boolean[] | undefined {
  return atEntryOf(fn, (frame) => probeFrame(frame, fn, name, depth, others));
}

/**
 * Whether the variable `name` that `fn` captures is still in its temporal dead zone (its `let`,
 * `const` or `class` declaration has not run yet): the inspector shows such a binding as
 * undefined, so a capture would carry undefined where a call here throws a ReferenceError. Read by
 * name in a frame paused at `fn`'s entry. `fn` must be enterable; undefined when the probe could
 * not run.
 */
export function inTemporalDeadZone(fn: Function, name: string): boolean | undefined {
  return atEntryOf(fn, (frame) => {
    const read = post<{ exceptionDetails?: { exception?: RemoteObject & { className?: string } } }>('Debugger.evaluateOnCallFrame', {
      callFrameId: frame.callFrameId,
      expression: name,
      throwOnSideEffect: true,
      silent: true,
      objectGroup: GROUP,
    });
    if (!read.exceptionDetails) return false;
    if (read.exceptionDetails.exception?.className === 'ReferenceError') return true;
    throw new Error(`reading \`${name}\` in the paused frame failed otherwise`);
  });
}

/**
 * `inPause` run on the frame of `fn` paused at its entry, before its first statement; the call
 * then ends there. Undefined when the probe could not run (or `inPause` threw a plain error); an
 * error whose message starts with 'joblet:' (the program's state may have changed) is thrown.
 */
function atEntryOf<T>(fn: Function, inPause: (frame: Pause['callFrames'][number]) => T): T | undefined {
  // A probe inside a probe's pause (never expected) would find the debugger already paused.
  if (probeUnavailable() || onPause) return undefined;
  ensureDebugger();
  if (!listening) onEvent('Debugger.paused', (params) => onPause?.(params as Pause));
  listening = true;
  const slot = globalThis as Record<string, unknown>;
  const state = { armed: false, fn };
  let phase = 'arming' as 'arming' | 'calling' | 'done';
  let result: T | undefined;
  let failure: unknown;
  let terminated = false;
  let breakpoint: string | undefined;
  try {
    slot[SLOT] = fn;
    const fnId = post<{ result: RemoteObject }>('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(SLOT)}]`, objectGroup: GROUP }).result.objectId;
    if (!fnId) return undefined;
    try {
      breakpoint = post<{ breakpointId: string }>('Debugger.setBreakpointOnFunctionCall', { objectId: fnId }).breakpointId;
    } catch {
      // A breakpoint another session of this thread set there: no probe.
      return undefined;
    }
    onPause = (pause) => {
      if (phase === 'arming') {
        // The probe's own `debugger` statement: pauses reach this session now, so the call may go.
        phase = 'calling';
        state.armed = true;
        return;
      }
      if (phase !== 'calling') return;
      phase = 'done';
      try {
        post('Debugger.removeBreakpoint', { breakpointId: breakpoint });
        breakpoint = undefined;
        if (!pause.hitBreakpoints?.length) throw new Error('paused elsewhere than at the entry of the function');
        result = inPause(pause.callFrames[0]!);
      } catch (error) {
        failure = error;
      } finally {
        // Whatever happened above, the call ends here, before the function's first statement.
        requestTermination(() => (terminated = true));
      }
    };
    slot[SLOT] = state;
    try {
      post('Runtime.evaluate', {
        expression: `(function () { 'use strict'; const s = globalThis[${JSON.stringify(SLOT)}]; debugger; if (s.armed) (0, s.fn)(); })()`,
        objectGroup: GROUP,
      });
    } catch {
      // 'Execution was terminated': the probe ended the call.
    }
  } finally {
    onPause = undefined;
    delete slot[SLOT];
    if (breakpoint) post('Debugger.removeBreakpoint', { breakpointId: breakpoint });
    post('Runtime.releaseObjectGroup', { objectGroup: GROUP });
  }
  if (phase === 'calling' || (phase === 'done' && !terminated)) {
    // Never expected: the function may have run in full. Say so rather than go on with a guess.
    throw new Error(`joblet: the scope probe could not stop \`${fn.name || 'anonymous'}\` at its entry; it may have run once. Please report this`);
  }
  // A value that could not be put back is not a refusal: the program's state changed. Said loudly.
  if (failure instanceof Error && failure.message.startsWith('joblet:')) throw failure;
  if (failure) return undefined;
  return result;
}

/** In the paused frame of `fn`: write a fresh object into `name`, see which of `others` hold it, write the value back. */
function probeFrame(frame: Pause['callFrames'][number], fn: Function, name: string, depth: number, others: Function[]): boolean[] {
  // The frame's chain is the function's own scope, then its [[Scopes]]; the site's depth counts from the outermost.
  const chain = frame.scopeChain.map((scope, index) => ({ scope, index })).filter(({ scope }) => scope.type !== 'local' && scope.type !== 'global');
  const target = chain[atDepth(chain.length, depth)];
  if (!target?.scope.object.objectId) throw new Error('no scope at the site depth');
  const { result: variables } = post<{ result: { name: string; value?: RemoteObject }[] }>('Runtime.getProperties', { objectId: target.scope.object.objectId, ownProperties: true });
  const original = variables.find((v) => v.name === name)?.value;
  if (!original) throw new Error(`no \`${name}\` in the scope`);
  // The inspector shows a `let` in its temporal dead zone as undefined: writing undefined back
  // would end the zone (the program's `n` would read undefined where it threw a ReferenceError).
  if (original.type === 'undefined' && !initialized(frame, target.index, name)) throw new Error(`\`${name}\` may be in its temporal dead zone`);
  const before = bindingOf(fn, name, depth);
  if (!before.found) throw new Error('the function shows no such binding');
  const marker = { probe: SLOT };
  const slot = globalThis as Record<string, unknown>;
  slot[SLOT] = marker;
  const markerId = post<{ result: RemoteObject }>('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(SLOT)}]`, objectGroup: GROUP }).result.objectId;
  delete slot[SLOT];
  const set = (value: object) => post('Debugger.setVariableValue', { scopeNumber: target.index, variableName: name, newValue: value, callFrameId: frame.callFrameId });
  set({ objectId: markerId });
  try {
    if (bindingOf(fn, name, depth).value !== marker) throw new Error('the write did not reach the binding');
    return others.map((other) => {
      const seen = bindingOf(other, name, depth);
      if (!seen.found) throw new Error('another function shows no such binding');
      return seen.value === marker;
    });
  } finally {
    // The value put back must be the value that was there: checked, never assumed.
    let restored = false;
    try {
      set(callArgument(original));
      restored = Object.is(bindingOf(fn, name, depth).value, before.value);
    } catch {
      restored = false;
    }
    if (!restored) throw new Error(`joblet: the scope probe could not put the value of \`${name}\` back. Please report this`);
  }
}

/**
 * Whether `name` in scope `index` of the paused frame holds a value (it is not in its temporal
 * dead zone): read by name in the frame, which throws a ReferenceError for a binding in its zone.
 * The name must reach that scope: a closer scope that lists it (or hides it, being in its zone
 * too, which throws as well) answers no.
 */
function initialized(frame: Pause['callFrames'][number], index: number, name: string): boolean {
  for (const scope of frame.scopeChain.slice(0, index)) {
    if (!scope.object.objectId) return false;
    const { result } = post<{ result: { name: string }[] }>('Runtime.getProperties', { objectId: scope.object.objectId, ownProperties: true });
    if (result.some((v) => v.name === name)) return false;
  }
  const read = post<{ exceptionDetails?: unknown }>('Debugger.evaluateOnCallFrame', { callFrameId: frame.callFrameId, expression: name, throwOnSideEffect: true, silent: true, objectGroup: GROUP });
  return read.exceptionDetails === undefined;
}

/** The value of `name` in `fn`'s scope at `depth`, read through a fresh copy of its [[Scopes]]. */
function bindingOf(fn: Function, name: string, depth: number): { found: boolean; value?: unknown } {
  const scopes = scopeObjectsOf(fn).filter((scope) => !scope.description.startsWith('Global'));
  const scope = scopes[atDepth(scopes.length, depth)];
  if (!scope || !Object.prototype.hasOwnProperty.call(scope.object, name)) return { found: false };
  return { found: true, value: scope.object[name] };
}

/** A remote value as an argument of a protocol call. */
function callArgument(remote: RemoteObject): object {
  if (remote.objectId) return { objectId: remote.objectId };
  if (remote.unserializableValue !== undefined) return { unserializableValue: remote.unserializableValue };
  if (remote.type === 'undefined') return {};
  return { value: remote.value };
}
