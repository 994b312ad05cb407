import { resolveIntrinsic } from './intrinsics.js';
import { wrapSource, type SourceForm } from './sourceForm.js';

/**
 * Rebuild a function from its source in the current realm's global scope.
 * Nothing from the defining module is visible here: that is the point, and
 * why a lost capture shows up as a ReferenceError rather than passing.
 */
export function compileFunction(source: string, form: SourceForm): Function {
  const wrapped = wrapSource(source, form);
  if (form === 'expression') return new Function(`return ${wrapped};`)() as Function;
  // A method's value, getter or setter: the first (only) property of the literal.
  const pick = new Function(
    `const d = Object.getOwnPropertyDescriptors(${wrapped});` +
      'const k = Reflect.ownKeys(d)[0]; return d[k].value ?? d[k].get ?? d[k].set;',
  );
  return pick() as Function;
}

/** Resolve `Math.max`, `Object.prototype.hasOwnProperty` and the like in this realm. */
export function resolveGlobalPath(path: string): Function {
  const value = resolveIntrinsic(path);
  if (typeof value !== 'function') throw new TypeError(`globalThis.${path} is not a function in this worker`);
  return value;
}
