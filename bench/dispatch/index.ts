/**
 * What it costs to hand work to workers (issue 5, items 4 and 5): joblet's
 * dispatch (automatic batching, one serialization per batch) against
 * piscina, tinypool, workerpool and bare worker_threads, every contender
 * with 2 worker threads, warm, in the same run. For small tasks the cost is
 * the message, not the work: this says how much of it joblet's batching
 * removes, what it adds to a single task, whether it gets out of the way of
 * long tasks, and whether a long stream stays in bounded memory.
 *
 * One file per measurement, each with its method and target at its top and
 * runnable alone: throughput.ts, latency.ts (with the pinned placements),
 * cpu-bound.ts, streaming.ts, first-run.ts. This entry runs them in the order they have
 * always run (the pools opened and warmed first; latency on quiet heaps,
 * then throughput, CPU-bound, and streaming once the peers are closed; last
 * the first run of fresh pools, first-run.ts) and
 * prints one report with every target judged. Results:
 * bench/results/dispatch-throughput.json (benny), dispatch-latency.json,
 * dispatch-cpu.json (each with its chart, .chart.html, not committed),
 * dispatch.json (every figure printed) and the printed tables in
 * dispatch.md. Peak RSS (threads included), wall time and load are printed.
 * The run takes about two minutes.
 *
 * Run: npm run bench:dispatch (npm run build && node dist/bench/dispatch/index.js)
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { saveWithChart } from '../lib/chart.js';
import { RESULTS } from '../lib/paths.js';
import { cpusLine, loadAverages } from '../lib/report.js';
import { RssByPhase } from '../lib/rss.js';
import { cpuBoundFigures, cpuBoundSections, cpuBoundTarget, measureCpuBound } from './cpu-bound.js';
import { latencyFigures, latencySections, latencyTarget, measureLatency } from './latency.js';
import { firstRunSections, firstRunTarget, measureFirstRun } from './first-run.js';
import { machineLine, openPools, warmPools } from './pools.js';
import { measureStreaming, streamingJson, streamingSections, streamingTarget } from './streaming.js';
import { measureThroughput, throughputJson, throughputSections, throughputTargets } from './throughput.js';

const started = performance.now();
const rss = new RssByPhase();
const loadAtStart = loadAverages();
console.log(machineLine(loadAtStart));

const pools = openPools();
rss.phase = 'start';
await warmPools(pools);
const latency = await measureLatency(rss);
const throughput = await measureThroughput(rss, pools);
const cpuBound = await measureCpuBound(rss, pools);
// The peers are done: their threads go before the streaming case, so that its memory is joblet's.
rss.phase = undefined;
await pools.close();
const streaming = await measureStreaming(rss);
// Last: fresh processes and Parallels, with nothing else open.
const firstRun = await measureFirstRun();

rss.stop();
const seconds = (performance.now() - started) / 1000;
const peakRssMiB = process.resourceUsage().maxRSS / 1024;

// ---- report --------------------------------------------------------------------

const throughputTarget = throughputTargets(throughput);
const latencyJudged = latencyTarget(latency);
const cpuJudged = cpuBoundTarget(cpuBound);
const streamingJudged = streamingTarget(streaming);
const firstRunJudged = firstRunTarget(firstRun);

const report = [
  ...throughputSections(throughput, rss),
  ...latencySections(latency),
  ...cpuBoundSections(cpuBound, rss),
  ...streamingSections(streaming),
  ...firstRunSections(firstRun),
  ['Targets (issues 5 and 17):', ...throughputTarget.lines, latencyJudged.line, cpuJudged.line, streamingJudged.line, firstRunJudged.line].join('\n'),
  `Throughput: benny, a sample is one run of all the tasks; ± is the relative margin of error (95%), wide with 2 samples (Student's t of 12.7); ` +
    `ratios compare the means, or the fastest samples. Latency: nearest-rank percentiles of every round trip, timed with performance.now() around each await. ` +
    `CPU-bound: one run per case per round, timed with performance.now(); cores used is the process's CPU time (every thread, process.cpuUsage()) over the wall time, 2 at best with 2 workers. ` +
    `RSS is the process's resident memory (worker threads included), at a case's first run and the highest sampled during it. ` +
    `Peak RSS of the whole run ${peakRssMiB.toFixed(0)} MiB (process.resourceUsage().maxRSS). ` +
    `Wall time ${seconds.toFixed(0)} s, load ${loadAtStart} at the start, ${loadAverages()} at the end (${os.cpus().length} cores).`,
].join('\n\n');
console.log(`\n${report}`);
writeFileSync(`${RESULTS}dispatch.md`, `${report}\n`);

// ---- raw results ---------------------------------------------------------------

const date = new Date().toISOString();
const latencySaved = latencyFigures(latency, date);
saveWithChart('dispatch-latency', latencySaved.figures, latencySaved.chart);
const cpuSaved = cpuBoundFigures(cpuBound, date);
saveWithChart('dispatch-cpu', cpuSaved.figures, cpuSaved.chart);
writeFileSync(
  `${RESULTS}dispatch.json`,
  JSON.stringify(
    {
      date,
      node: process.version,
      cpus: cpusLine(),
      load: { start: loadAtStart, end: loadAverages() },
      wallSeconds: seconds,
      peakRssMiB,
      throughput: throughputJson(throughput),
      latency: latency.rows,
      cpu: { calibration: cpuBound.calibration, rows: cpuBound.rows },
      streaming: streamingJson(streaming),
      firstRun: firstRun.rows,
      firstRunFloor: firstRun.floor,
      targets: {
        tasksPerSecond: throughputTarget.tasksPerSecond,
        overPiscina: throughputTarget.overPiscina,
        latency: latencyJudged.verdict,
        speedup: cpuJudged.verdict,
        streaming: streamingJudged.verdict,
      },
    },
    null,
    2,
  ),
);
