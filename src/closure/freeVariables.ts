import * as acorn from 'acorn';
import { analyze } from 'eslint-scope';
import { isWorkerGlobal } from './globals.js';

/** How a function's source must be wrapped to compile as an expression. */
export type SourceForm = 'expression' | 'method';

export interface ParsedFunction {
  form: SourceForm;
  /** Names the function reads from outside itself that no worker has as a global. */
  freeVariables: string[];
}

const PARSE_OPTIONS: acorn.Options = { ecmaVersion: 'latest', sourceType: 'script', ranges: true };

/** Source text for each form; `compileFunction` in the worker undoes the same wrapping. */
export function wrapSource(source: string, form: SourceForm): string {
  // The newline guards against a source that ends in a line comment.
  return form === 'expression' ? `(${source}\n)` : `({${source}\n})`;
}

function parseAs(source: string, form: SourceForm): acorn.Program | undefined {
  try {
    return acorn.parse(wrapSource(source, form), PARSE_OPTIONS);
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
  const scopes = analyze(ast as never, { ecmaVersion: 2022, sourceType: 'script' });
  const names = new Set<string>();
  for (const reference of scopes.globalScope!.through) {
    const name = reference.identifier.name;
    if (!isWorkerGlobal(name)) names.add(name);
  }
  const parsed: ParsedFunction = { form, freeVariables: [...names] };
  cache.set(source, parsed);
  return parsed;
}
