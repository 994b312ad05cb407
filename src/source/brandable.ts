import type * as Acorn from 'acorn';
import { loadParser } from './freeVariables.js';

/**
 * A class's source rewritten so that the codec can make an instance of it that holds given
 * #private field values, without running the user's constructor bodies or field initialisers
 * (their side effects, their arguments). No code outside a class can add its #private fields to
 * an object: only the class's own construction can, when `super()` returns that object. So:
 *
 * - a base class gets a parent, ROOT_NAME, a plain function that makes the object as a base
 *   class would, or, while a restore is on, returns the object being restored;
 * - each constructor, while a restore is on, only calls `super()` and returns;
 * - each instance field initialiser, while a restore is on, takes the field's value from the
 *   restore (a #private one) or leaves `undefined` (a public one, defined afterwards with its
 *   descriptor).
 *
 * With the restore off, the class behaves as written. The compiler sets the prototype of the
 * class's `prototype` back to Object.prototype, so instances see no trace of ROOT_NAME.
 */
export const ROOT_NAME = '__jobletRoot$';
export const RESTORE_NAME = '__jobletRestore$';

type Node = Acorn.Node & Record<string, any>;

/** The class a source holds, parsed as an expression; undefined when it is not a class acorn can read. */
function classExpressionOf(source: string): Node | undefined {
  let ast: Acorn.Program;
  try {
    ast = loadParser().acorn.parse(`(${source})`, { ecmaVersion: 'latest', sourceType: 'script' });
  } catch {
    return undefined;
  }
  const top = (ast.body[0] as Node | undefined)?.expression as Node | undefined;
  return top?.type === 'ClassExpression' ? top : undefined;
}

/**
 * The instance #private members a class's own body declares: its fields by name, and whether it
 * has private methods or accessors (which give an instance a brand, not a field).
 */
export function privateInstanceMembers(source: string): { fields: string[]; brands: boolean } | undefined {
  const top = classExpressionOf(source);
  if (!top) return undefined;
  const fields: string[] = [];
  let brands = false;
  for (const member of top.body.body as Node[]) {
    if (member.static || member.key?.type !== 'PrivateIdentifier') continue;
    if (member.type === 'PropertyDefinition') fields.push(`#${member.key.name}`);
    else brands = true;
  }
  return { fields, brands };
}

/** Whether a function body has a `return` with a value of its own (not one of a nested function). */
function returnsValue(node: Node): boolean {
  if (!node || typeof node.type !== 'string') return false;
  if (node.type === 'ReturnStatement') return !!node.argument;
  if (/Function|Class/.test(node.type)) return false;
  for (const key of Object.keys(node)) {
    const child = node[key];
    if (Array.isArray(child)) {
      if (child.some((c) => c && typeof c === 'object' && returnsValue(c as Node))) return true;
    } else if (child && typeof child === 'object' && typeof (child as Node).type === 'string' && returnsValue(child as Node)) return true;
  }
  return false;
}

/** The rewritten source, or undefined when the source is not a class acorn can read. */
export function brandableSource(source: string): string | undefined {
  const top = classExpressionOf(source);
  if (!top) return undefined;
  // [offset in source, text to insert, end of the text it replaces]
  const edits: [number, string, number][] = [];
  const at = (offset: number) => offset - 1;
  const on = `${RESTORE_NAME}.on`;
  // Static #private fields: a static block, run last when the class is made, hands the compiler
  // one setter per field, so that their values as they were when the class was sent are set again.
  const statics: string[] = [];
  const isBase = !top.superClass;
  if (isBase) {
    const after = top.id ? at(top.id.end) : at(top.start) + 'class'.length;
    edits.push([after, ` extends ${ROOT_NAME}`, after]);
  }
  for (const member of top.body.body as Node[]) {
    if (member.type === 'MethodDefinition' && member.kind === 'constructor') {
      const fn = member.value as Node;
      if (isBase && (!(fn.params as Node[]).every((p) => p.type === 'Identifier') || returnsValue(fn.body))) {
        // A base class made derived: `this` does not exist before super(), so parameters that
        // could read it (a default, a destructuring) are evaluated after it, in an arrow that
        // keeps `this`, `arguments` and `new.target`; and a derived constructor may not return
        // a primitive, which a base one may (it is ignored): only an object is returned.
        const args = '__jobletArgs$';
        const result = '__jobletResult$';
        edits.push(
          [at(fn.start), `(...${args}) { super(); if (${on}) return; const ${result} = (`, at(fn.start)],
          [at(fn.body.start), ' => ', at(fn.body.start)],
          [at(fn.end), `)(...${args}); if (${result} !== null && (typeof ${result} === 'object' || typeof ${result} === 'function')) return ${result}; }`, at(fn.end)],
        );
        // The constructor's `length` counts the parameters before the first default or rest.
        const simple = (fn.params as Node[]).findIndex((p) => p.type !== 'Identifier');
        const length = simple === -1 ? fn.params.length : simple;
        if (length) edits.push([at(top.body.start) + 1, ` static { Object.defineProperty(this, 'length', { value: ${length}, configurable: true }); } `, at(top.body.start) + 1]);
      } else {
        const open = at(fn.body.start) + 1;
        edits.push([open, isBase ? ` super(); if (${on}) return; ` : ` if (${on}) { super(); return; } `, open]);
      }
    } else if (member.type === 'PropertyDefinition' && !member.static) {
      const restored = member.key.type === 'PrivateIdentifier' ? `${RESTORE_NAME}.field(${JSON.stringify(`#${member.key.name}`)})` : 'undefined';
      if (member.value) edits.push([at(member.value.start), `${on} ? ${restored} : (`, at(member.value.start)], [at(member.value.end), ')', at(member.value.end)]);
      else {
        const keyEnd = member.computed ? source.indexOf(']', at(member.key.end)) + 1 : at(member.key.end);
        edits.push([keyEnd, ` = ${on} ? ${restored} : undefined`, keyEnd]);
      }
    }
    if (member.type === 'PropertyDefinition' && member.static && member.key.type === 'PrivateIdentifier') {
      statics.push(`${JSON.stringify(`#${member.key.name}`)}: (v) => { this.#${member.key.name} = v; }`);
    }
  }
  if (statics.length) {
    const close = at(top.body.end) - 1;
    edits.push([close, ` static { ${RESTORE_NAME}.statics = { ${statics.join(', ')} }; } `, close]);
  }
  edits.sort((a, b) => b[0] - a[0]);
  let out = source;
  for (const [start, text, end] of edits) out = out.slice(0, start) + text + out.slice(end);
  return out;
}
