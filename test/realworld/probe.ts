/**
 * Child process of the harness: times the first capture of one case, so a
 * capture that blocks for a minute (issue 13, item 9) is cut off by the
 * parent's timer instead of holding the suite. Prints 'ready', then one JSON line.
 * Usage: node probe.js <group> <case name> <folder for fixtures, made and removed by the parent>
 */
import { getSerializer } from 'joblet';
import { caseFn, taskOf } from './case.js';
import { loadGroup, type GroupName } from './groups.js';

const [group, name, dir] = process.argv.slice(2) as [GroupName, string, string];
const c = (await loadGroup(group, dir)).cases.find((x) => x.name === name);
if (!c) throw new Error(`no case '${name}' in group ${group}`);
// The parent starts its clock here, so loading the packages does not count as capture.
console.log('ready');
const started = performance.now();
let error: string | undefined;
try {
  getSerializer('auto').serialize(taskOf(c, caseFn(c)));
} catch (e) {
  error = String(e instanceof Error ? e.message : e).split('\n')[0]!.slice(0, 300);
}
console.log(JSON.stringify({ ms: performance.now() - started, ...(error ? { error } : {}) }));
process.exit(0);
