/**
 * mathjs: a large library instance from create(all, {...}), whose capture
 * issue 13 (item 9) measured at over a minute before a refusal. The cases
 * that capture the instance are `heavy`: their first capture is timed in a
 * child process with a cap, which loads this file alone.
 */
import { create, all, evaluate } from 'mathjs';
import type { Case } from '../case.js';

const math = create(all!, { number: 'BigNumber', precision: 20 });

export function mathjsCases(): Case[] {
  return [
    { name: 'mathjs: a create(all, {...}) instance captured', source: 'mathjs', heavy: true, fn: (expr: string) => math.format(math.evaluate(expr), { precision: 10 }), args: ['1/3 + 2'] },
    { name: 'mathjs: a method of the instance held in a variable', source: 'mathjs', heavy: true, fn: ((sqrt) => (x: number) => String(sqrt(x)))(math.sqrt), args: [2] },
    { name: 'mathjs: the package export evaluate captured', source: 'mathjs', fn: (expr: string) => evaluate(expr), args: ['2 * (3 + 4)'] },
  ];
}
