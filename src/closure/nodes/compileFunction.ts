import vm from 'node:vm';
import { wrapSource } from '../../source/sourceForm.js';
import { SUPER_NAME } from '../capture.js';
import type { FunctionRecord } from '../graph.js';

/**
 * Turning a function record back into a function: its source compiled inside a
 * wrapper that declares what it captured, in this realm or a vm context.
 */

const EARLY = '__jobletEarly$';
const THIS = '__jobletThis$';
// Names a strict wrapper cannot declare with `let`; a capture of one of them is dropped.
const RESERVED = new Set(['arguments', 'eval', 'let', 'static', 'yield', 'await', 'implements', 'interface', 'package', 'private', 'protected', 'public']);

type Compiled = [Function, (name: string, value: unknown) => void];

/**
 * A function compiled with its captured variables as `let` bindings of a wrapper; a binding
 * whose value is still being built (recursion, mutual recursion) is set through the wrapper's
 * setter once that value exists.
 */
export function compile(record: FunctionRecord, early: Record<string, unknown>, sup: unknown, self: unknown, context: vm.Context | undefined): Compiled {
  const names = Object.keys(record.vars).filter((name) => !RESERVED.has(name));
  const declarations = names.length ? `let ${names.map((n) => `${n} = ${EARLY}[${JSON.stringify(n)}]`).join(', ')};` : '';
  const setter = `function (name, value) { switch (name) { ${names.map((n) => `case ${JSON.stringify(n)}: ${n} = value; break;`).join(' ')} } }`;
  const expression =
    record.form === 'expression'
      ? wrapSource(record.source, 'expression')
      : `((o) => { const d = Object.getOwnPropertyDescriptors(o); const k = Reflect.ownKeys(d)[0]; return d[k].value ?? d[k].get ?? d[k].set; })(${wrapSource(record.source, 'method')})`;
  const body = record.self === undefined ? `return [${expression}, ${setter}];` : `return (function () { return [${expression}, ${setter}]; }).call(${THIS});`;
  const code = `(function (${EARLY}, ${SUPER_NAME}, ${THIS}) { ${record.strict ? "'use strict';" : ''} ${declarations} ${body} })`;
  const factory = (context ? vm.runInContext(code, context) : (0, eval)(code)) as (...a: unknown[]) => Compiled;
  const compiled = factory(early, sup, self);
  // A name inferred from where the function stood (`{ applyRate: (x) => ... }`) is not in its source: set it back.
  const [fn] = compiled;
  if (record.name && fn.name !== record.name && Object.getOwnPropertyDescriptor(fn, 'name')?.configurable) {
    Object.defineProperty(fn, 'name', { value: record.name, configurable: true });
  }
  return compiled;
}
