import { UnserializableValueError } from '../serialize/types.js';
import type { Capture } from './capture.js';
import { contextsOf, HEAP_LIMIT, snapshotAffordable } from './contexts.js';
import type { FunctionRecord, ScopeRecord } from './graph.js';
import { RESERVED } from './nodes/compileFunction.js';
import { parseFunctionSource } from '../source/freeVariables.js';
import { probeUnavailable, sharesBinding } from './scopeProbe.js';

/**
 * Keeping scope identity across a payload, as cloudpickle keeps cell identity: when functions of
 * one snapshot close over one binding that one of them assigns (`let n; inc = () => ++n; get =
 * () => n`), a copy per function would answer differently, so the binding becomes one node
 * (a 'scope') that all of them are compiled in. A binding no sent function assigns is copied:
 * every copy holds the same value for good.
 *
 * Which functions share a binding: the inspector's [[Scopes]] are fresh copies, so the same
 * variable at the same place in the same script (its site's key) only says they may. A module's
 * top level exists once, so there the key is proof. Elsewhere (a factory called twice makes two
 * scopes with one key) values that differ prove two scopes; one scope is proven by writing into
 * the binding from a pause at the entry of one of the functions and reading it through the
 * others (scopeProbe.ts: about a millisecond, no statement of theirs runs), or else by a heap
 * snapshot where the heap is small enough; otherwise the payload is refused, never guessed.
 */

type SourceCapture = Extract<Capture, { kind: 'source' }>;

export interface ScopeMember {
  fn: Function;
  record: FunctionRecord;
  capture: SourceCapture;
  /** Where the encoder met the function, for a refusal. */
  path: string;
}

interface Group {
  members: ScopeMember[];
  names: string[];
  /** The key of the site the names share (see capture.ts). */
  key: string;
}

/** Make the scope nodes a graph's functions need; `addScope` adds one and returns its marker. */
export function shareScopes(members: ScopeMember[], addScope: (record: ScopeRecord) => unknown): void {
  const proven: Group[] = [];
  const unproven: Group[] = [];
  for (const [key, { members: sited, once }] of sitesOf(members)) {
    for (const group of byValues(key, sited)) (once ? proven : unproven).push(group);
  }
  if (unproven.length) proven.push(...byContext(unproven));
  const scoped = new Map<ScopeMember, Group>();
  for (const group of proven) {
    const record: ScopeRecord = { t: 'scope', vars: {} };
    for (const member of group.members) {
      const earlier = scoped.get(member);
      if (earlier) refuseNested(member, earlier, group);
      scoped.set(member, group);
      for (const name of group.names) {
        if (!(name in member.record.vars)) continue;
        if (!(name in record.vars)) record.vars[name] = member.record.vars[name];
        delete member.record.vars[name];
      }
    }
    const marker = addScope(record);
    for (const member of group.members) member.record.scope = marker;
  }
}

/** The functions by the key of the site of each variable they capture (a variable `RESERVED` cannot be declared again: left a copy). */
function sitesOf(members: ScopeMember[]): Map<string, { members: ScopeMember[]; once: boolean }> {
  const sites = new Map<string, { members: ScopeMember[]; once: boolean }>();
  for (const member of members) {
    for (const [name, site] of member.capture.sites) {
      if (RESERVED.has(name) || !(name in member.record.vars)) continue;
      let entry = sites.get(site.key);
      if (!entry) sites.set(site.key, (entry = { members: [], once: site.once }));
      if (!entry.members.includes(member)) entry.members.push(member);
    }
  }
  return sites;
}

/** Names at `key` that two or more of `members` capture and one of them assigns. */
function sharedNames(key: string, members: ScopeMember[]): string[] {
  const readers = new Map<string, number>();
  const written = new Set<string>();
  for (const member of members) {
    for (const [name, site] of member.capture.sites) {
      if (site.key !== key || RESERVED.has(name) || !(name in member.record.vars)) continue;
      readers.set(name, (readers.get(name) ?? 0) + 1);
      if (member.capture.written.has(name)) written.add(name);
    }
  }
  return [...written].filter((name) => readers.get(name)! >= 2);
}

/**
 * The functions at one site split where their captured values differ (those cannot be one
 * scope), each part kept if two or more of its functions capture a name one of them assigns.
 */
function byValues(key: string, sited: ScopeMember[]): Group[] {
  const parts: ScopeMember[][] = [];
  for (const member of sited) {
    const agrees = (other: ScopeMember) =>
      [...member.capture.sites].every(([name, site]) => site.key !== key || !other.capture.values.has(name) || other.capture.sites.get(name)?.key !== key || Object.is(other.capture.values.get(name), member.capture.values.get(name)));
    const part = parts.find((p) => p.every(agrees));
    if (part) part.push(member);
    else parts.push([member]);
  }
  const groups: Group[] = [];
  for (const part of parts) {
    const names = sharedNames(key, part);
    if (!names.length) continue;
    // Only the functions that capture a shared name join its scope.
    const members = part.filter((m) => names.some((name) => m.capture.sites.get(name)?.key === key));
    groups.push({ members, names, key });
  }
  return groups;
}

/** The depth of a site's scope, counted from the outermost non-global scope (see capture.ts's key). */
const depthOf = (member: ScopeMember, name: string) => Number(member.capture.sites.get(name)!.key.split(':')[1]);

/** A call of the function runs none of its code before its first statement (see ParsedFunction.enterable). */
const enterable = (member: ScopeMember) => !member.capture.isClass && parseFunctionSource(member.capture.source)?.enterable === true;

/**
 * The members of one group split by the binding each holds, proven by scopeProbe.ts: one
 * enterable member's binding is written, and the members that see the write hold it too.
 * Why not, when some members cannot be told apart that way (none of them can be entered, say).
 */
function byProbe(group: Group): ScopeMember[][] | string {
  const unavailable = probeUnavailable();
  if (unavailable) return unavailable;
  const parts: ScopeMember[][] = [];
  let left = [...group.members];
  // The name written: one the entered function holds at the group's site (every name there is in the one scope).
  const nameAtSite = (m: ScopeMember) => group.names.find((name) => m.capture.sites.get(name)?.key === group.key);
  while (left.length > 1) {
    const entered = left.find((m) => enterable(m) && nameAtSite(m) !== undefined);
    const name = entered && nameAtSite(entered);
    if (!entered || !name) return 'none of them is a plain function, method or arrow with plain parameters, which a pause can stop before it runs';
    const others = left.filter((m) => m !== entered);
    const seen = sharesBinding(entered.fn, name, depthOf(entered, name), others.map((m) => m.fn));
    if (!seen) return 'the debugger did not pause there';
    parts.push([entered, ...others.filter((_, i) => seen[i])]);
    left = others.filter((_, i) => !seen[i]);
  }
  if (left.length) parts.push(left);
  return parts;
}

/** Groups split by the context each function closes over: probed (see byProbe), else read from one heap snapshot. */
function byContext(groups: Group[]): Group[] {
  const out: Group[] = [];
  const rest: Group[] = [];
  let why = '';
  for (const group of groups) {
    const parts = byProbe(group);
    if (typeof parts === 'string') {
      rest.push(group);
      why ||= parts;
      continue;
    }
    for (const members of parts) {
      const names = group.names.filter((name) => members.filter((m) => m.capture.sites.has(name)).length >= 2 && members.some((m) => m.capture.written.has(name)));
      if (members.length >= 2 && names.length) out.push({ members, names, key: group.key });
    }
  }
  if (rest.length) out.push(...bySnapshot(rest, why));
  return out;
}

/** Groups split by the context each function closes over, read from one heap snapshot. */
function bySnapshot(groups: Group[], why: string): Group[] {
  if (!snapshotAffordable()) refuseUnproven(groups[0]!, why);
  const all = [...new Set(groups.flatMap((g) => g.members))];
  const contexts = new Map(all.map((member, i) => [member, i]));
  const ids = contextsOf(all.map((m) => m.fn));
  const out: Group[] = [];
  for (const group of groups) {
    const byId = new Map<number, ScopeMember[]>();
    for (const member of group.members) {
      const id = ids[contexts.get(member)!];
      if (id === undefined) refuseUnproven(group, why);
      byId.set(id!, [...(byId.get(id!) ?? []), member]);
    }
    for (const members of byId.values()) {
      const names = group.names.filter((name) => members.filter((m) => m.capture.sites.has(name)).length >= 2 && members.some((m) => m.capture.written.has(name)));
      if (members.length >= 2 && names.length) out.push({ members, names, key: group.key });
    }
  }
  return out;
}

const REMEDY =
  'Keep state that several functions change in one object they all capture (const state = { n: 0 }): an object keeps its identity in the payload. Or create those functions inside the task';

function describe(group: Group): string {
  const [first, second] = group.members;
  return `\`${first!.capture.name}\` and \`${second!.capture.name}\` (${second!.path.replace(/^ -> /, '') || 'the task'}) capture \`${group.names.join('`, `')}\`, which one of them assigns`;
}

/**
 * The task function and its arguments are two payloads (the def, sent once per worker, and each
 * batch's arguments): a binding a function of each captures, written by one of them (`inc` passed
 * to a task that calls `get`), would arrive as two copies, and the task would answer differently
 * from this thread. The def is encoded first and reused by every batch, so its functions cannot be
 * compiled in a scope the arguments bring later: such a payload is refused. `defs` are the members
 * of the run's task-function payloads (of every task function of the run: a binding shared with
 * another task's function refuses too, which errs on the side of a refusal). Functions at a
 * factory's site hold the same binding only if the same call made them: values that differ prove
 * two scopes, a heap snapshot (where affordable) proves one or two, and otherwise it is refused.
 */
export function refuseSharedAcrossPayloads(members: ScopeMember[], defs: readonly ScopeMember[], initializer?: 'initializer' | 'task' | 'arguments'): void {
  for (const member of members) {
    for (const def of defs) {
      // A class in both is one class in the worker (rebuilt once per id and run: classRegistry.ts), with one binding.
      if (member.fn === def.fn && member.record.cid !== undefined) continue;
      for (const [name, site] of member.capture.sites) {
        if (RESERVED.has(name) || def.capture.sites.get(name)?.key !== site.key) continue;
        const writer = member.capture.written.has(name) ? member : def.capture.written.has(name) ? def : undefined;
        if (!writer) continue;
        if (!site.once && !sameBinding(member, def, name)) continue;
        const where = def.path.replace(/^ -> /, '') || 'the task function itself';
        if (initializer) throw initializerRefusal(member, def, name, writer, initializer);
        throw new UnserializableValueError(
          `\`${member.capture.name}\` here and \`${def.capture.name}\` in the task function (fn -> ${where}) capture one binding \`${name}\`, which \`${writer.capture.name}\` assigns; ` +
            'the task function and its arguments travel as separate payloads, so the worker would hold two copies of it and answer differently from this thread',
          member.path,
          ACROSS_REMEDY,
        );
      }
    }
  }
}

/** `member` and `def` capture `name` at one factory's site: the same binding, or unprovable (refused either way). */
function sameBinding(member: ScopeMember, def: ScopeMember, name: string): boolean {
  if (!Object.is(member.capture.values.get(name), def.capture.values.get(name))) return false;
  if (member.fn === def.fn) return true;
  const [entered, other] = enterable(member) ? [member, def] : enterable(def) ? [def, member] : [];
  const seen = entered && !probeUnavailable() ? sharesBinding(entered.fn, name, depthOf(entered, name), [other!.fn]) : undefined;
  if (seen) return seen[0]!;
  if (!snapshotAffordable()) return true;
  const [a, b] = contextsOf([member.fn, def.fn]);
  return a === undefined || b === undefined || a === b;
}

/** `member` (in the initializer, a task function or the arguments, as `side` says) and `def` (the other) share `name`. */
function initializerRefusal(member: ScopeMember, def: ScopeMember, name: string, writer: ScopeMember, side: 'initializer' | 'task' | 'arguments'): UnserializableValueError {
  const here = side === 'initializer' ? 'the initializer' : side === 'task' ? 'the task function' : 'the arguments';
  const there = side === 'initializer' ? 'the task function' : 'the initializer';
  return new UnserializableValueError(
    `\`${member.capture.name}\` in ${here} and \`${def.capture.name}\` in ${there} capture one binding \`${name}\`, which \`${writer.capture.name}\` assigns; ` +
      'the initializer travels as its own payload, so the worker would hold two copies of it: what the initializer assigns, the tasks would not see',
    member.path,
    'Return what the tasks need from the initializer and read it in the task with workerState() (the README\'s "One resource per worker")',
  );
}

const ACROSS_REMEDY =
  'Send the functions that share the binding in one payload: capture them all in the task function (not as arguments), or pass them all as arguments of the task';

function refuseUnproven(group: Group, why: string): never {
  throw new UnserializableValueError(
    `${describe(group)}; whether they share that binding (one counter) or each has its own (two counters from one factory) could not be proven: ` +
      `joblet pauses at the entry of one of them to see (not here: ${why}), ` +
      `or takes a heap snapshot, which it does not for a heap over ${HEAP_LIMIT / 1024 / 1024} MB`,
    group.members[0]!.path,
    REMEDY,
  );
}

function refuseNested(member: ScopeMember, earlier: Group, group: Group): never {
  throw new UnserializableValueError(
    `function \`${member.capture.name}\` shares bindings of two nested scopes with other functions (${describe(earlier)}; ${describe(group)}), which joblet does not rebuild`,
    member.path,
    REMEDY,
  );
}
