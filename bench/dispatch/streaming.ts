/**
 * 4. Streaming: 1,000,000 tasks from a generator (never an array) through
 *    `returnAs: 'generator_unordered'`, the consumer pausing 5 ms every
 *    50,000 results. RSS is sampled every 20 ms; at every 100,000 results
 *    RSS, heap used, and the live heap after a full collection are read.
 *    The live heap an array of the same tasks holds is measured after, for
 *    scale. Bounded: the live heap at the end within 8 MiB of the first
 *    checkpoint's.
 *
 * In the full run it comes last, after the peers' pools are closed, so that
 * its memory is joblet's.
 *
 * Alone: npm run build && node dist/bench/dispatch/streaming.js
 */
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Parallel, delayed } from 'joblet';
import { isEntry } from '../lib/paths.js';
import { markdownTable, thousands } from '../lib/report.js';
import { mib, type RssByPhase } from '../lib/rss.js';
import { N_JOBS, inc, runAlone } from './pools.js';

const STREAM_TASKS = 1_000_000;
const STREAM_CHECKPOINT = 100_000;
const STREAM_PAUSE_EVERY = 50_000;
const STREAM_PAUSE_MS = 5;
/** The live heap may end at most this far above the first checkpoint's (MiB). */
const STREAM_LIVE_SLACK = 8;

// A full collection on demand, to tell live memory from garbage not yet collected (as --expose-gc would).
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

interface Checkpoint {
  results: number;
  seconds: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** Heap used right after a full collection: what the run really holds. */
  liveHeapMiB: number;
}

/** The live heap (MiB), after a full collection. */
function liveHeap(): number {
  collectGarbage();
  return mib(process.memoryUsage().heapUsed);
}

async function stream(rss: RssByPhase): Promise<{ checkpoints: Checkpoint[]; startRss: number; startLive: number; seconds: number; sum: number; count: number }> {
  const streaming = new Parallel({ nJobs: N_JOBS, returnAs: 'generator_unordered' });
  try {
    for await (const _ of streaming.run([delayed(inc)(0), delayed(inc)(1)])) {
      // workers started, inc compiled
    }
    function* source() {
      for (let i = 0; i < STREAM_TASKS; i++) yield delayed(inc)(i);
    }
    const checkpoints: Checkpoint[] = [];
    const startLive = liveHeap();
    const startRss = process.memoryUsage.rss();
    rss.phase = 'streaming';
    rss.sample();
    const begun = performance.now();
    let paused = 0;
    let count = 0;
    let sum = 0;
    for await (const value of streaming.run(source())) {
      sum += value;
      count++;
      if (count % STREAM_PAUSE_EVERY === 0) await sleep(STREAM_PAUSE_MS);
      if (count % STREAM_CHECKPOINT === 0) {
        const { rss: resident, heapUsed } = process.memoryUsage();
        rss.sample();
        // The collection's own time is left out of the stream's.
        const collecting = performance.now();
        const live = liveHeap();
        paused += performance.now() - collecting;
        checkpoints.push({ results: count, seconds: (performance.now() - begun - paused) / 1000, rssMiB: mib(resident), heapUsedMiB: mib(heapUsed), liveHeapMiB: live });
      }
    }
    const seconds = (performance.now() - begun - paused) / 1000;
    rss.phase = undefined;
    return { checkpoints, startRss, startLive, seconds, sum, count };
  } finally {
    await streaming.close();
  }
}

export interface Streaming {
  streamed: Awaited<ReturnType<typeof stream>>;
  /** RSS while streaming: at the start and the peak, in bytes. */
  streamRss: { start: number; peak: number };
  /** The live heap the same tasks hold as an array (MiB). */
  arrayLive: number;
  firstLive: number;
  lastLive: number;
  maxLive: number;
  bounded: boolean;
}

export async function measureStreaming(rss: RssByPhase): Promise<Streaming> {
  console.log(`\nstreaming: ${STREAM_TASKS.toLocaleString('en-US')} tasks from a generator, returnAs 'generator_unordered'`);
  const streamed = await stream(rss);
  const expectedSum = (STREAM_TASKS * (STREAM_TASKS + 1)) / 2;
  if (streamed.count !== STREAM_TASKS || streamed.sum !== expectedSum) {
    throw new Error(`streaming: ${streamed.count} results summing to ${streamed.sum}, expected ${STREAM_TASKS} summing to ${expectedSum}`);
  }
  for (const c of streamed.checkpoints) {
    console.log(
      `  ${c.results.toLocaleString('en-US')} results, ${c.seconds.toFixed(2)} s: RSS ${c.rssMiB.toFixed(0)} MiB, heap used ${c.heapUsedMiB.toFixed(0)} MiB, live ${c.liveHeapMiB.toFixed(1)} MiB`,
    );
  }
  const streamRss = rss.get('streaming')!;
  // For scale: the live heap that the same tasks hold as an array (built, not run).
  const arrayLive = (() => {
    const before = liveHeap();
    const held = Array.from({ length: STREAM_TASKS }, (_, i) => delayed(inc)(i));
    const grown = liveHeap() - before;
    return held.length === STREAM_TASKS ? grown : 0;
  })();
  const firstLive = streamed.checkpoints[0]!.liveHeapMiB;
  const lastLive = streamed.checkpoints[streamed.checkpoints.length - 1]!.liveHeapMiB;
  const maxLive = Math.max(...streamed.checkpoints.map((c) => c.liveHeapMiB));
  const bounded = lastLive <= firstLive + STREAM_LIVE_SLACK;
  return { streamed, streamRss, arrayLive, firstLive, lastLive, maxLive, bounded };
}

export function streamingSections({ streamed, streamRss, arrayLive, firstLive, maxLive }: Streaming): string[] {
  return [
    `### Streaming: ${STREAM_TASKS.toLocaleString('en-US')} tasks \`x + 1\` from a generator, \`returnAs: 'generator_unordered'\`, nJobs ${N_JOBS}, the consumer pausing ${STREAM_PAUSE_MS} ms every ${STREAM_PAUSE_EVERY.toLocaleString('en-US')} results`,
    markdownTable(
      ['results', 's', 'tasks/s so far', 'RSS (MiB)', 'heap used (MiB)', 'live heap (MiB)'],
      ['---:', '---:', '---:', '---:', '---:', '---:'],
      streamed.checkpoints.map((c) => [
        c.results.toLocaleString('en-US'),
        c.seconds.toFixed(2),
        thousands(c.results / c.seconds),
        c.rssMiB.toFixed(0),
        c.heapUsedMiB.toFixed(0),
        c.liveHeapMiB.toFixed(1),
      ]),
    ),
    `RSS ${mib(streamed.startRss).toFixed(0)} MiB at the start, peak ${mib(streamRss.peak).toFixed(0)} MiB (sampled every 20 ms, worker threads included): ` +
      `growth ${(mib(streamRss.peak) - mib(streamed.startRss)).toFixed(0)} MiB over ${STREAM_TASKS.toLocaleString('en-US')} tasks in ${streamed.seconds.toFixed(1)} s ` +
      `(${thousands(STREAM_TASKS / streamed.seconds)} tasks/s, the pauses included, the collections at the checkpoints not). ` +
      `Live heap of the main thread ${streamed.startLive.toFixed(1)} MiB at the start, ${firstLive.toFixed(1)} to ${maxLive.toFixed(1)} MiB at the checkpoints; ` +
      `the same ${STREAM_TASKS.toLocaleString('en-US')} tasks held in an array: ${arrayLive.toFixed(0)} MiB more.`,
  ];
}

/** The target's line under 'Targets', and its verdict for dispatch.json. */
export function streamingTarget({ streamed, streamRss, firstLive, lastLive, maxLive, bounded }: Streaming): { line: string; verdict: string } {
  const line =
    `- streaming, memory bounded: **${bounded ? 'bounded' : 'GROWING'}**; live heap ${firstLive.toFixed(1)} MiB at the first checkpoint, ${lastLive.toFixed(1)} MiB at the last ` +
    `(bounded: at most ${STREAM_LIVE_SLACK} MiB more), at most ${maxLive.toFixed(1)} MiB; peak RSS ${mib(streamRss.peak).toFixed(0)} MiB, ` +
    `${(mib(streamRss.peak) - mib(streamed.startRss)).toFixed(0)} MiB above the start, garbage not yet collected included`;
  return { line, verdict: bounded ? 'bounded' : 'growing' };
}

/** The figures as dispatch.json holds them. */
export const streamingJson = ({ streamed, streamRss, arrayLive }: Streaming) => ({
  tasks: STREAM_TASKS,
  seconds: streamed.seconds,
  startRssMiB: mib(streamed.startRss),
  peakRssMiB: mib(streamRss.peak),
  startLiveHeapMiB: streamed.startLive,
  arrayLiveHeapMiB: arrayLive,
  checkpoints: streamed.checkpoints,
});

if (isEntry(import.meta.url)) {
  await runAlone(
    (rss) => measureStreaming(rss),
    (result) => ({ sections: streamingSections(result), targets: [streamingTarget(result).line] }),
    false,
  );
}
