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

/** The rewritten source, or undefined when the source is not a class acorn can read. */
export function brandableSource(source: string): string | undefined {
  let ast: Acorn.Program;
  try {
    ast = loadParser().acorn.parse(`(${source})`, { ecmaVersion: 'latest', sourceType: 'script' });
  } catch {
    return undefined;
  }
  const top = (ast.body[0] as Node | undefined)?.expression as Node | undefined;
  if (top?.type !== 'ClassExpression') return undefined;
  // [offset in source, text to insert, end of the text it replaces]
  const edits: [number, string, number][] = [];
  const at = (offset: number) => offset - 1;
  const on = `${RESTORE_NAME}.on`;
  const isBase = !top.superClass;
  if (isBase) {
    const after = top.id ? at(top.id.end) : at(top.start) + 'class'.length;
    edits.push([after, ` extends ${ROOT_NAME}`, after]);
  }
  for (const member of top.body.body as Node[]) {
    if (member.type === 'MethodDefinition' && member.kind === 'constructor') {
      const open = at(member.value.body.start) + 1;
      edits.push([open, isBase ? ` super(); if (${on}) return; ` : ` if (${on}) { super(); return; } `, open]);
    } else if (member.type === 'PropertyDefinition' && !member.static) {
      const restored = member.key.type === 'PrivateIdentifier' ? `${RESTORE_NAME}.field(${JSON.stringify(`#${member.key.name}`)})` : 'undefined';
      if (member.value) edits.push([at(member.value.start), `${on} ? ${restored} : (`, at(member.value.start)], [at(member.value.end), ')', at(member.value.end)]);
      else {
        const keyEnd = member.computed ? source.indexOf(']', at(member.key.end)) + 1 : at(member.key.end);
        edits.push([keyEnd, ` = ${on} ? ${restored} : undefined`, keyEnd]);
      }
    }
  }
  edits.sort((a, b) => b[0] - a[0]);
  let out = source;
  for (const [start, text, end] of edits) out = out.slice(0, start) + text + out.slice(end);
  return out;
}
