/**
 * How a function's source text must be wrapped to compile as an expression.
 * A leaf module: the worker's compiler needs this, not the parser.
 */
export type SourceForm = 'expression' | 'method';

/** Source text for each form; the newline guards against a source that ends in a line comment. */
export function wrapSource(source: string, form: SourceForm): string {
  return form === 'expression' ? `(${source}\n)` : `({${source}\n})`;
}
