/**
 * What sharing large data saves (issue 4, item 6): a large argument given to
 * every task, copied with each task against shared, on warm worker threads
 * (`new Parallel({ nJobs: 2 })`, serializer 'auto', the default). Copying
 * costs a clone per task, which grows with the data; sharing sends it to each
 * worker once per run (automatic sharing) or never copies it (shared memory).
 *
 * One file per measurement: steps.ts (where the time of a copy goes, timed
 * alone first), list.ts (joblib's list), array.ts (an 80 MB Float64Array,
 * piscina's row included); suite.ts is what they share. This entry runs
 * them in that order and prints one report.
 *
 * Times are the wall time of one run() (or of piscina's 100 run() calls)
 * divided by its tasks. Every ratio is against the copied case of the same
 * suite of the same run. The effects measured are 10 to 1,000 times, far
 * larger than this shared machine's drift, so one benny suite each is enough
 * (no interleaved rounds). A target is judged twice: met when both pass,
 * missed when both fail, borderline otherwise. A copied 80 MB run takes 10
 * to 20 s, so the copied cases are timed over 2 or 3 runs only (their ± is
 * wide; their ratios are nowhere near a target). Raw results go to
 * bench/results/sharing-<suite>.json, with a chart drawn from each
 * (.chart.html, not committed), the printed tables to
 * bench/results/sharing.md. The peak RSS sampled during each case and the
 * run's peak (process.resourceUsage().maxRSS, threads included) are printed.
 *
 * Run: npm run bench:sharing (npm run build && node dist/bench/sharing/index.js)
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { RESULTS } from '../lib/paths.js';
import { cpusLine, loadAverages } from '../lib/report.js';
import { ARRAY_LENGTH, ARRAY_TASKS, array as data, arrayTarget, measureArray } from './array.js';
import { LIST_LENGTH, LIST_TASKS, largeList, listTarget, measureList } from './list.js';
import { copies, measureSteps, stepsLine, type Steps } from './steps.js';
import { N_JOBS, ms, rowOf, rss, table, type Row } from './suite.js';

const started = performance.now();
const loadAtStart = loadAverages();
console.log(`node ${process.version}, ${cpusLine()}, load ${loadAtStart}`);

const [listSteps, arraySteps] = (await measureSteps([largeList, data], 3)) as [Steps, Steps];
console.log(`${stepsLine('the list', listSteps)}\n${stepsLine('the 80 MB array', arraySteps)}`);

const list = await measureList();
let array: Awaited<ReturnType<typeof measureArray>>;
try {
  array = await measureArray();
} finally {
  rss.stop();
}
const seconds = (performance.now() - started) / 1000;
const peakRssMiB = process.resourceUsage().maxRSS / 1024;

// ---- report ------------------------------------------------------------------

const listShared = rowOf(list.rows, 'shared automatically');
const listCopied = rowOf(list.rows, 'copied');
const listFloor = rowOf(list.rows, 'floor (no list)');
const arrayShared = rowOf(array.rows, 'sharedArray');
const arrayCopied = rowOf(array.rows, 'copied');
const arrayAuto = rowOf(array.rows, 'shared automatically');
const arrayFloor = rowOf(array.rows, 'floor (no array)');

/** What a case shared once per run should cost: the floor plus one send of the value to each worker, spread over the run's tasks. */
const oncePerWorker = (floorRow: Row, send: number, tasks: number) => floorRow.msPerTask + (N_JOBS * send) / tasks;
const piscinaRow = array.rows.find((r) => r.name.startsWith('piscina'));

const report = [
  `### list: ${LIST_TASKS} tasks \`(i, list) => list.length + i\`, list = ${LIST_LENGTH.toLocaleString('en-US')} integers, Parallel({ nJobs: ${N_JOBS} }) on warm worker threads`,
  table('list', list.rows, list.cases),
  `### array: ${ARRAY_TASKS} tasks \`(i, array) => array[i]\`, array = Float64Array of ${ARRAY_LENGTH.toLocaleString('en-US')} doubles (80 MB), ${N_JOBS} warm worker threads`,
  table('array', array.rows, array.cases),
  ...(array.piscinaSkipped === undefined ? [] : [array.piscinaSkipped]),
  ['Targets (issue 4):', listTarget(list), arrayTarget(array)].join('\n'),
  [
    'Where the time goes (each step alone, on a bare worker thread, before the suites; fastest of 3):',
    `- a copied task is three copies in a row: encode (v8.serialize, main thread), send the bytes (postMessage: a copy in the main thread, one in the worker), decode (v8.deserialize, worker). ` +
      `The list: ${ms(listSteps.encode)} + ${ms(listSteps.sendBytes)} + ${ms(listSteps.decode)} = ${ms(copies(listSteps))} ms; measured ${ms(listCopied.msPerTask)} ms per task with ${N_JOBS} workers. ` +
      `The 80 MB array: ${ms(arraySteps.encode)} + ${ms(arraySteps.sendBytes)} + ${ms(arraySteps.decode)} = ${ms(copies(arraySteps))} ms; measured ${ms(arrayCopied.msPerTask)} ms per task ` +
      `(the two workers decode side by side, so a task costs less than the sum). ` +
      `Transferring the encoded bytes instead of copying them (postMessage's transferList) would take the send from ${ms(arraySteps.sendBytes)} to ${ms(arraySteps.transferBytes)} ms (the list: ${ms(listSteps.sendBytes)} to ${ms(listSteps.transferBytes)} ms).`,
    `- piscina sends the value itself, one clone per task: ${ms(arraySteps.sendValue)} ms for the 80 MB array` +
      (piscinaRow ? `; measured ${ms(piscinaRow.msPerTask)} ms per task.` : '.'),
    `- shared automatically sends the value once to each of the ${N_JOBS} workers per run: about the floor plus ${N_JOBS} sends over the run's tasks, ` +
      `${ms(oncePerWorker(listFloor, listSteps.sendValue, LIST_TASKS))} ms per task for the list (measured ${ms(listShared.msPerTask)}), ` +
      `${ms(oncePerWorker(arrayFloor, arraySteps.sendValue, ARRAY_TASKS))} ms for the 80 MB array (measured ${ms(arrayAuto.msPerTask)}).`,
    `- sharedArray moves nothing per task: ${ms(arrayShared.msPerTask)} ms per task against a floor of ${ms(arrayFloor.msPerTask)} ms. ` +
      `Its one-time copy, \`sharedArray.from(array)\`, took ${ms(array.fromArrayMs)} ms (outside the timed runs): ` +
      `counted in a single run of ${ARRAY_TASKS} tasks, ${ms(arrayShared.msPerTask + array.fromArrayMs / ARRAY_TASKS)} ms per task.`,
    `- persist: \`persist(array)\` took ${ms(array.persistMs)} ms; the handle's first run (the copy to shared memory, sent to each worker) ` +
      `${ms(array.firstPersistRun)} ms per task; the runs after it, in the table, ${ms(rowOf(array.rows, 'persist, handle').msPerTask)} ms per task.`,
  ].join('\n'),
  `ms per task is the mean run time over the run's tasks; ± is the relative margin of error (95%), wide for the copied 80 MB cases, timed over 2 runs (Student's t of 12.7); ratios compare the means, or the fastest samples; ` +
    `a sample is one run, or the mean of a few for the fast cases; ` +
    `RSS is the process's resident memory (worker threads included) at the case's first run and the highest sampled during it, garbage of earlier cases not yet collected included. ` +
    `Peak RSS of the whole run ${peakRssMiB.toFixed(0)} MiB (process.resourceUsage().maxRSS). ` +
    `Wall time ${seconds.toFixed(0)} s, load ${loadAtStart} at the start, ${loadAverages()} at the end (${os.cpus().length} cores).`,
].join('\n\n');
console.log(`\n${report}`);
writeFileSync(`${RESULTS}sharing.md`, `${report}\n`);
