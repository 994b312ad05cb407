/**
 * What attributing unhandled rejections by async context costs (issue 16): in a worker, V8's
 * promise hooks stamp every promise with its task's context and restore it around each
 * continuation (src/runtime/rejections.ts). Tasks of 100 bare awaits (the worst case: nothing but
 * promises) and plain synchronous tasks, on two worker threads, through this build and, with
 * `--baseline DIR`, through another build of joblet (a checkout's root, after `npm run build`),
 * alternating rounds in one process so that both see the same machine. Prints microseconds per
 * task (the median of the rounds) and the ratio.
 * `npm run bench:rejections -- [--baseline DIR]`, or `node dist/bench/rejections.js [--tasks N] [--rounds R] [--baseline DIR]`.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import * as current from '../src/index.js';

const { values } = parseArgs({
  options: { tasks: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' }, baseline: { type: 'string' } },
});
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);

type Joblet = typeof current;
const builds: [string, Joblet][] = [['this build', current]];
if (values.baseline) builds.push(['baseline', (await import(pathToFileURL(path.resolve(values.baseline, 'dist/src/index.js')).href)) as Joblet]);

const awaits100 = async (i: number) => {
  for (let k = 0; k < 100; k++) await null;
  return i;
};
const plain = (i: number) => i;
const workloads: [string, (i: number) => unknown][] = [['100 bare awaits per task', awaits100], ['a plain synchronous task', plain]];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`${TASKS} tasks a round, ${ROUNDS} rounds, 2 worker threads`);
for (const [name, fn] of workloads) {
  const perTask = new Map<string, number[]>(builds.map(([b]) => [b, []]));
  const pools = builds.map(([b, joblet]) => [b, joblet, new joblet.Parallel({ nJobs: 2 })] as const);
  try {
    // A warm-up round each: workers started, the function sent.
    for (const [, joblet, parallel] of pools) await parallel.run(Array.from({ length: 1000 }, (_, i) => joblet.delayed(fn)(i)));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [b, joblet, parallel] of r % 2 ? [...pools].reverse() : pools) {
        const tasks = Array.from({ length: TASKS }, (_, i) => joblet.delayed(fn)(i));
        const started = performance.now();
        const out = (await parallel.run(tasks)) as unknown[];
        perTask.get(b)!.push(((performance.now() - started) * 1000) / TASKS);
        if (out[TASKS - 1] !== TASKS - 1) throw new Error(`${b}: wrong results`);
      }
    }
  } finally {
    await Promise.all(pools.map(([, , parallel]) => parallel.close()));
  }
  const line = builds.map(([b]) => `${b} ${median(perTask.get(b)!).toFixed(2)} µs`).join(', ');
  const ratio = builds.length > 1 ? `, ratio ${(median(perTask.get('this build')!) / median(perTask.get('baseline')!)).toFixed(2)}` : '';
  console.log(`${name.padEnd(26)} ${line}${ratio}`);
}
