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
}

const PARSE_OPTIONS: Acorn.Options = { ecmaVersion: 'latest', sourceType: 'script', ranges: true };

// The parser and the scope analyzer are loaded on first use, synchronously: a worker that
// never describes a function (most of them) saves their ~25 ms of start-up.
const require = createRequire(import.meta.url);
let parser: { acorn: typeof Acorn; analyze: typeof EslintScope.analyze } | undefined;
const loadParser = () => (parser ??= { acorn: require('acorn') as typeof Acorn, analyze: (require('eslint-scope') as typeof EslintScope).analyze });

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
  const names = new Set<string>();
  for (const reference of scopes.globalScope!.through) {
    const name = reference.identifier.name;
    if (!isWorkerGlobal(name)) names.add(name);
  }
  const parsed: ParsedFunction = { form, freeVariables: [...names] };
  cache.set(source, parsed);
  return parsed;
}
