/**
 * How long a joblet worker takes to start, against a bare worker (issue 17, item 5: part of what
 * the first run of a fresh pool pays is its workers' start). For each start, the time from the
 * spawn to the worker's 'ready' message, and to its answer to a first batch (one task `x + 1`
 * sent as source, serializer 'auto', as a run's first batch is) sent on 'ready'.
 *   - bare ES module / CommonJS thread: bench/lib/workers/bare.ts, bare-cjs.cts (load nothing);
 *   - joblet thread: the threads backend's own spawn (spawnThread), so its entry and workerData;
 *   - bare process and joblet process: child_process.fork as the processes backend forks.
 * Then the same with two workers started at once, as a pool of two starts them: the time until
 * both answered (they share the machine's cores with each other and the main thread).
 * Starts are interleaved (one kind after the other, SAMPLES rounds), one start alive at a time;
 * figures are medians, and each joblet start is compared with the bare start of the same
 * transport measured in the same rounds.
 *
 * Alone: npm run build && node dist/bench/workerStart.js
 */
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { spawnThread } from '../src/backends/threads.js';
import type { FromWorker, ToWorker, WireBatch } from '../src/runtime/protocol.js';
import { WORKERS, isEntry } from './lib/paths.js';
import { cpusLine, loadAverages, markdownTable, median } from './lib/report.js';

const SAMPLES = 15;

/** The processes backend's entry, compiled beside the threads one. */
const PROCESS_ENTRY = fileURLToPath(new URL('../src/runtime/processWorker.js', import.meta.url));

const batch: WireBatch = {
  id: 1,
  serializer: 'auto',
  defs: [{ kind: 'function', id: 'inc', name: 'inc', source: '(x) => x + 1', form: 'expression' }],
  indices: [0],
  fns: 'inc',
  args: [1],
  unary: true,
};

/** A started worker: messages go to `onMessage`; `stop` resolves once it is gone. */
interface Started {
  send(message: ToWorker): void;
  stop(): Promise<void>;
}
type Start = (onMessage: (message: FromWorker) => void) => Started;

const thread = (file: URL): Start => (onMessage) => {
  const worker = new Worker(file);
  worker.on('message', onMessage);
  return { send: (message) => worker.postMessage(message), stop: async () => void (await worker.terminate()) };
};

const child = (file: string): Start => (onMessage) => {
  const forked = fork(file, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc', 'pipe'] });
  forked.on('message', onMessage as (message: unknown) => void);
  return {
    send: (message) => void forked.send(message),
    stop: () =>
      new Promise<void>((resolve) => {
        forked.once('exit', () => resolve());
        forked.kill('SIGKILL');
      }),
  };
};

const jobletThread: Start = (onMessage) => {
  let done!: () => void;
  const exited = new Promise<void>((resolve) => (done = resolve));
  const handle = spawnThread({ message: onMessage, exit: () => done() });
  handle.ref();
  return { send: (message) => handle.send(message), stop: async () => { await handle.terminate(); await exited; } };
};

const STARTS: { name: string; transport: 'thread' | 'process'; bare?: true; start: Start }[] = [
  { name: 'bare ES module thread', transport: 'thread', bare: true, start: thread(new URL('bare.js', WORKERS)) },
  { name: 'bare CommonJS thread', transport: 'thread', start: thread(new URL('bare-cjs.cjs', WORKERS)) },
  { name: 'joblet thread', transport: 'thread', start: jobletThread },
  { name: 'bare ES module process', transport: 'process', bare: true, start: child(fileURLToPath(new URL('bare.js', WORKERS))) },
  { name: 'joblet process', transport: 'process', start: child(PROCESS_ENTRY) },
];

/** Milliseconds from the spawn to 'ready', and to the first batch's reply, of `start` begun at `begun`. */
function startOne(start: Start, begun: number): { started: Started; ready: Promise<number>; reply: Promise<number> } {
  let started!: Started;
  let ready!: (ms: number) => void;
  const readyAt = new Promise<number>((resolve) => (ready = resolve));
  const reply = new Promise<number>((resolve, reject) => {
    started = start((message) => {
      if (message.type === 'ready') {
        ready(performance.now() - begun);
        started.send({ type: 'batch', batch });
      } else if (message.type === 'reply') {
        if (message.values?.[0] !== 2) reject(new Error(`the first batch was answered ${JSON.stringify(message)}`));
        resolve(performance.now() - begun);
      }
    });
  });
  return { started, ready: readyAt, reply };
}

/** One worker: ms to 'ready' and to the first reply. */
async function once(start: Start): Promise<{ ready: number; reply: number }> {
  const one = startOne(start, performance.now());
  const [ready, reply] = await Promise.all([one.ready, one.reply]);
  await one.started.stop();
  return { ready, reply };
}

/** Two workers started together: ms until both answered their first batch. */
async function twice(start: Start): Promise<number> {
  const begun = performance.now();
  const both = [startOne(start, begun), startOne(start, begun)];
  const replies = await Promise.all(both.map((one) => one.reply));
  await Promise.all(both.map((one) => one.started.stop()));
  return Math.max(...replies);
}

export interface WorkerStart {
  rows: { name: string; ready: number; reply: number; two: number; readyRatio: number; replyRatio: number; twoRatio: number }[];
}

export async function measureWorkerStart(samples = SAMPLES): Promise<WorkerStart> {
  const times = STARTS.map(() => ({ ready: [] as number[], reply: [] as number[], two: [] as number[] }));
  // One round unmeasured: the first start of each kind reads its files from disk.
  for (const s of STARTS) await once(s.start);
  for (let round = 0; round < samples; round++) {
    for (const [i, s] of STARTS.entries()) {
      const t = await once(s.start);
      times[i]!.ready.push(t.ready);
      times[i]!.reply.push(t.reply);
      times[i]!.two.push(await twice(s.start));
    }
  }
  const medians = times.map((t) => ({ ready: median(t.ready), reply: median(t.reply), two: median(t.two) }));
  const bareOf = (transport: string) => medians[STARTS.findIndex((s) => s.bare && s.transport === transport)]!;
  return {
    rows: STARTS.map((s, i) => ({
      name: s.name,
      ...medians[i]!,
      readyRatio: medians[i]!.ready / bareOf(s.transport).ready,
      replyRatio: medians[i]!.reply / bareOf(s.transport).reply,
      twoRatio: medians[i]!.two / bareOf(s.transport).two,
    })),
  };
}

export function workerStartTable({ rows }: WorkerStart, samples = SAMPLES): string {
  const ms = (value: number) => value.toFixed(1);
  return [
    `Worker start: ms from the spawn to 'ready' and to the answer of a first batch, one worker and two started at once (median of ${samples} starts; ratio to the bare ES module worker of the same transport)`,
    markdownTable(
      ['worker', 'ready ms', 'ready / bare', 'first reply ms', 'first reply / bare', 'two: both replied ms', 'two / bare'],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:'],
      rows.map((r) => [r.name, ms(r.ready), `${r.readyRatio.toFixed(2)}x`, ms(r.reply), `${r.replyRatio.toFixed(2)}x`, ms(r.two), `${r.twoRatio.toFixed(2)}x`]),
    ),
  ].join('\n\n');
}

if (isEntry(import.meta.url)) {
  const samples = Number(process.argv[2] ?? SAMPLES);
  console.log(`node ${process.version}, ${cpusLine()}; load at start ${loadAverages()}`);
  console.log(`\n${workerStartTable(await measureWorkerStart(samples), samples)}\nload at end ${loadAverages()}`);
}
