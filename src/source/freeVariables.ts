import { createRequire } from 'node:module';
import type * as Acorn from 'acorn';
import type * as EslintScope from 'eslint-scope';
import { isWorkerGlobal } from './globals.js';
import { wrapSource, type SourceForm } from './sourceForm.js';

export type { SourceForm };

export interface ParsedFunction {
  form: SourceForm;
  /** Names the function reads from outside itself that no worker has as a global. */
  freeVariables: string[];
  /** Every name it reads from outside itself, globals included (a module may shadow a global). */
  referencedNames: string[];
  /** Names from outside itself that it (or a function inside it) assigns: a copy of such a binding can diverge from a shared one. */
  writtenNames: string[];
  /** The source is a class. */
  isClass: boolean;
  /** Names read by the class's `extends` clause: they need values when the class is created. */
  heritageNames: string[];
  /** Where the `extends` expression stands in the source, as [start, end) offsets. */
  superClassRange: [number, number] | undefined;
  /** An arrow function that uses `this` from the scope it was created in. */
  usesLexicalThis: boolean;
  /** An arrow function: no name of its own, no `this`, no `arguments`, so its body cannot reach the function object. */
  isArrow: boolean;
  /** A class with `#private` fields or methods: its instances carry state no copy can restore. */
  hasPrivateMembers: boolean;
  /** Calls eval() directly: it may read any variable in scope, which no analysis can list. */
  callsEval: boolean;
  /** Uses `super` outside a class body of its own: its home object is not part of its source. */
  usesSuper: boolean;
  /** Names read only by computed member keys of a class (`[ITER]() {}`): no scope entry keeps them. */
  computedKeyNames: string[];
  /**
   * A call runs none of the function's code before its first statement: a plain function, method
   * or arrow (not a class, not async, not a generator) whose parameters are plain names (a default
   * value or a destructuring pattern is code that runs first, a getter perhaps).
   */
  enterable: boolean;
}

/** Walk an AST, calling `visit(node, insideFunction)`; `insideFunction` is true below a non-arrow function or class. */
function walkAst(node: unknown, visit: (node: Node, insideFunction: boolean) => void, insideFunction = false): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const child of node) walkAst(child, visit, insideFunction);
    return;
  }
  const n = node as Node;
  if (typeof n.type !== 'string') return;
  visit(n, insideFunction);
  const entering = insideFunction || n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration' || n.type === 'ClassBody';
  for (const key of Object.keys(n)) {
    if (key !== 'type' && key !== 'range' && key !== 'start' && key !== 'end') walkAst(n[key], visit, entering);
  }
}

type Node = Acorn.Node & Record<string, unknown>;

/** The function, arrow or class node that the wrapped source evaluates to. */
function topNode(ast: Acorn.Program, form: SourceForm): Node | undefined {
  const statement = ast.body[0] as Node | undefined;
  const expression = statement?.expression as Node | undefined;
  if (form === 'expression') return expression;
  const property = (expression?.properties as Node[] | undefined)?.[0];
  return property?.value as Node | undefined;
}

/** A method's own body uses `super` (directly or in arrows): walkAst counts a method's body as inside a function. */
function sourceUsesSuper(top: Node | undefined): boolean {
  let found = false;
  walkAst((top as Node | undefined)?.body, (node, insideFunction) => {
    if (node.type === 'Super' && !insideFunction) found = true;
  });
  return found;
}

/** True when `this` appears in `node` outside any nested non-arrow function or class. */
function usesThis(node: unknown): boolean {
  if (!node || typeof node !== 'object') return false;
  const n = node as Node;
  if (n.type === 'ThisExpression') return true;
  if (n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration' || n.type === 'ClassExpression' || n.type === 'ClassDeclaration') return false;
  for (const key of Object.keys(n)) {
    if (key === 'type' || key === 'range' || key === 'start' || key === 'end') continue;
    const child = n[key];
    if (Array.isArray(child) ? child.some(usesThis) : usesThis(child)) return true;
  }
  return false;
}

const PARSE_OPTIONS: Acorn.Options = { ecmaVersion: 'latest', sourceType: 'script', ranges: true };

// The parser and the scope analyzer are loaded on first use, synchronously: a worker that
// never describes a function (most of them) saves their ~25 ms of start-up.
const require = createRequire(import.meta.url);
let parser: { acorn: typeof Acorn; analyze: typeof EslintScope.analyze } | undefined;
export const loadParser = () => (parser ??= { acorn: require('acorn') as typeof Acorn, analyze: (require('eslint-scope') as typeof EslintScope).analyze });

function parseAs(source: string, form: SourceForm): Acorn.Program | undefined {
  try {
    return loadParser().acorn.parse(wrapSource(source, form), PARSE_OPTIONS);
  } catch {
    return undefined;
  }
}

const cache = new Map<string, ParsedFunction>();

/**
 * Parse a function's source (from `Function.prototype.toString`) with a real
 * parser and list its free variables through scope analysis: hoisting,
 * destructuring, shadowing and named function expressions all resolve as
 * the language resolves them. Cached by source, since tasks repeat.
 * Returns undefined when the source does not parse in either form.
 */
export function parseFunctionSource(source: string): ParsedFunction | undefined {
  const hit = cache.get(source);
  if (hit) return hit;
  let form: SourceForm = 'expression';
  let ast = parseAs(source, form);
  if (!ast) {
    // Method shorthand (`m() {}`, `get x() {}`, `async *g() {}`) is only valid inside an object literal.
    form = 'method';
    ast = parseAs(source, form);
  }
  if (!ast) return undefined;
  const scopes = loadParser().analyze(ast as never, { ecmaVersion: 2022, sourceType: 'script' });
  const referenced = new Set<string>();
  const written = new Set<string>();
  const heritage = new Set<string>();
  const top = topNode(ast, form);
  const isClass = top?.type === 'ClassExpression';
  const superRange = isClass ? ((top.superClass as Node | null)?.range as [number, number] | undefined) : undefined;
  for (const reference of scopes.globalScope!.through) {
    const name = reference.identifier.name;
    referenced.add(name);
    if (reference.isWrite()) written.add(name);
    const at = (reference.identifier as unknown as { range: [number, number] }).range[0];
    if (superRange && at >= superRange[0] && at < superRange[1]) heritage.add(name);
  }
  let callsEval = false;
  let usesSuper = false;
  const computedRanges: [number, number][] = [];
  walkAst(top, (node, insideFunction) => {
    if (node.type === 'CallExpression' && (node.callee as Node).type === 'Identifier' && (node.callee as Node).name === 'eval') callsEval = true;
    // `super` in the function itself, or in arrows within it: the home object is not in the source.
    if (node.type === 'Super' && !insideFunction && !isClass) usesSuper = true;
    if ((node.type === 'MethodDefinition' || node.type === 'PropertyDefinition') && node.computed) computedRanges.push((node.key as Node).range as [number, number]);
  });
  const computedKeyNames = new Set<string>();
  for (const reference of scopes.globalScope!.through) {
    const at = (reference.identifier as unknown as { range: [number, number] }).range[0];
    if (computedRanges.some(([start, end]) => at >= start && at < end)) computedKeyNames.add(reference.identifier.name);
  }
  const parsed: ParsedFunction = {
    callsEval,
    usesSuper: usesSuper || (form === 'method' && sourceUsesSuper(top)),
    computedKeyNames: [...computedKeyNames],
    form,
    freeVariables: [...referenced].filter((name) => !isWorkerGlobal(name)),
    referencedNames: [...referenced],
    writtenNames: [...written],
    isClass,
    heritageNames: [...heritage],
    // Offsets in the wrapped source, less the one-character prefix `(` of the expression form.
    superClassRange: superRange ? [superRange[0] - 1, superRange[1] - 1] : undefined,
    usesLexicalThis: top?.type === 'ArrowFunctionExpression' && usesThis(top.body),
    isArrow: top?.type === 'ArrowFunctionExpression',
    enterable:
      (top?.type === 'ArrowFunctionExpression' || top?.type === 'FunctionExpression') &&
      !top.async &&
      !top.generator &&
      (top.params as Node[]).every((p) => p.type === 'Identifier' || (p.type === 'RestElement' && (p.argument as Node).type === 'Identifier')),
    hasPrivateMembers:
      isClass && ((top.body as Node).body as Node[]).some((member) => (member.key as Node | undefined)?.type === 'PrivateIdentifier'),
  };
  cache.set(source, parsed);
  return parsed;
}
