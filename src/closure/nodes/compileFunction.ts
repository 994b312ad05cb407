import vm from 'node:vm';
import { SUPER_NAME } from '../capture.js';
import type { FunctionRecord } from '../graph.js';
import { brandableSource, RESTORE_NAME, ROOT_NAME } from '../../source/brandable.js';
import { brandable, RESTORE, staticSetters } from './privateFields.js';

/**
 * Turning a function record back into a function: its source compiled inside a
 * wrapper that declares what it captured, in this realm or a vm context.
 */

const EARLY = '__jobletEarly$';
const THIS = '__jobletThis$';
// Names a strict wrapper cannot declare with `let`; a capture of one of them is dropped.
export const RESERVED = new Set(['arguments', 'eval', 'let', 'static', 'yield', 'await', 'implements', 'interface', 'package', 'private', 'protected', 'public']);

type Compiled = [Function, (name: string, value: unknown) => void];

/**
 * A function compiled with its captured variables as `let` bindings of a wrapper; a binding
 * whose value is still being built (recursion, mutual recursion) is set through the wrapper's
 * setter once that value exists.
 */
export function compile(
  record: FunctionRecord,
  early: Record<string, unknown>,
  sup: unknown,
  self: unknown,
  context: vm.Context | undefined,
  scope?: SharedScope,
): Compiled {
  const names = Object.keys(record.vars).filter((name) => !RESERVED.has(name));
  const declarations = names.length ? `let ${names.map((n) => `${n} = ${EARLY}[${JSON.stringify(n)}]`).join(', ')};` : '';
  const setter = `function (name, value) { switch (name) { ${names.map((n) => `case ${JSON.stringify(n)}: ${n} = value; break;`).join(' ')} } }`;
  // The code around the source, in two halves: the source goes between them, padded so that it
  // starts where it started in the user's file (`at`), and `sourceURL` names that file, so a
  // stack frame of the rebuilt function reads `file:///.../app.js:12:9` rather than an eval here.
  const [open, close] = record.form === 'expression' ? ['(', '\n)'] : ['((o) => { const d = Object.getOwnPropertyDescriptors(o); const k = Reflect.ownKeys(d)[0]; return d[k].value ?? d[k].get ?? d[k].set; })(({', '\n}))'];
  const [bodyOpen, bodyClose] =
    record.self === undefined ? ['return [', `, ${setter}];`] : ['return (function () { return [', `, ${setter}]; }).call(${THIS});`];
  // A class whose instances may carry #private fields: compiled with the means to restore them (privateFields.ts).
  // A derived class with nothing to rewrite (`class B extends A {}`: its default constructor only
  // passes on to super) is brandable as it is; only a base class needs the root as its parent.
  const rewritten = record.brand ? brandableSource(record.source) : undefined;
  const source = rewritten ?? record.source;
  const root = rewritten !== undefined && record.sup === undefined ? `function ${ROOT_NAME}() { if (${RESTORE_NAME}.on) return ${RESTORE_NAME}.target; }` : '';
  const head = `(function (${EARLY}, ${SUPER_NAME}, ${THIS}, ${RESTORE_NAME}) { ${record.strict ? "'use strict';" : ''} ${declarations} ${root} ${bodyOpen}${open}`;
  const code = `${head}${padding(head.length, record.at)}${source}${close}${bodyClose} })${record.at ? `\n//# sourceURL=${record.at[0]}` : ''}`;
  // Inside a shared scope, the wrapper is compiled where that scope's bindings are visible.
  const factory = (scope ? scope.run(code) : context ? vm.runInContext(code, context) : (0, eval)(code)) as (...a: unknown[]) => Compiled;
  RESTORE.statics = undefined;
  let compiled: Compiled;
  let statics: typeof RESTORE.statics;
  try {
    compiled = factory(early, sup, self, RESTORE);
  } finally {
    statics = RESTORE.statics;
    RESTORE.statics = undefined;
  }
  if (rewritten !== undefined) {
    const cls = compiled[0] as Function & { prototype: object };
    brandable.add(cls);
    if (statics) staticSetters.set(cls, statics);
    // A base class given the root as parent: its instances' chain is as written (the root stays behind the class itself).
    if (root) Object.setPrototypeOf(cls.prototype, Object.getPrototypeOf(Object.getPrototypeOf(cls.prototype)));
  }
  // A name inferred from where the function stood (`{ applyRate: (x) => ... }`) is not in its source: set it back.
  const [fn] = compiled;
  if (record.name && fn.name !== record.name && Object.getOwnPropertyDescriptor(fn, 'name')?.configurable) {
    Object.defineProperty(fn, 'name', { value: record.name, configurable: true });
  }
  return compiled;
}

/** Bindings declared once for several functions: `run` compiles code where they are in scope, `set` assigns one. */
export interface SharedScope {
  run(code: string): unknown;
  set(name: string, value: unknown): void;
}

const CODE = '__jobletCode$';

/**
 * A scope declaring `names` as `let` bindings (undefined until set). Functions compiled by its
 * `run` (a direct eval inside it) close over those very bindings, as the functions did that
 * shared them in the main thread. Sloppy itself, so each function keeps its own strictness.
 */
export function compileScope(names: string[], context: vm.Context | undefined): SharedScope {
  const cases = names.map((n) => `case ${JSON.stringify(n)}: ${n} = value; break;`).join(' ');
  const code = `(function () { ${names.length ? `let ${names.join(', ')};` : ''} return { run: (${CODE}) => eval(${CODE}), set(name, value) { switch (name) { ${cases} } } }; })`;
  const factory = (context ? vm.runInContext(code, context) : (0, eval)(code)) as () => SharedScope;
  return factory();
}

/** Padding beyond this is not worth its compile time (a minified bundle's one line): the frame keeps the right file and line. */
const MAX_PADDING = 20_000;

/** Newlines and spaces that put the source at its original line and column after a head of `headLength` characters. */
function padding(headLength: number, at: FunctionRecord['at']): string {
  if (!at) return '';
  const [, line, column] = at;
  if (line > 0) return '\n'.repeat(Math.min(line, 10 * MAX_PADDING)) + ' '.repeat(Math.min(column, MAX_PADDING));
  return ' '.repeat(Math.min(Math.max(0, column - headLength), MAX_PADDING));
}
