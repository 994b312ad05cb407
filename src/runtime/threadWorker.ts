/** Entry of a worker thread: receive batches on the parent port, answer each with one message. */
import { loadAfterReady } from './onDemand.js';
import { parentPort, workerData } from 'node:worker_threads';
import { TaskRunner } from './taskRunner.js';
import { markWorkerRealm } from '../closure/classRegistry.js';
import { transferable } from './transfer.js';
import { compactReply, expandBatch, type CompactBatch } from './compactWire.js';
import { connectToMain } from '../values/mainChannel.js';
import { LINGER_MS, linger } from './wake.js';
import { heapInUse } from './memory.js';
import { trackRejections } from './rejections.js';
import { progress } from './progress.js';
import type { FromWorker, ToWorker, WireBatch, WireReply } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('joblet: threadWorker.js must be started as a worker thread');

// The main thread holds every class it sends: a class sent back goes by id.
markWorkerRealm();
const runner = new TaskRunner();
// Lines (a Counter's) go to the main thread on this port, ahead of the reply, so none is lost when the pool stops this thread.
connectToMain({
  post: (kind, body) => port.postMessage({ type: 'ref', kind, body } satisfies FromWorker),
  log: (text) => port.postMessage({ type: 'log', text } satisfies FromWorker),
});

// A promise a task left rejected with no handler fails that task (in its batch's reply, or on its
// own once the reply went) instead of killing the thread: it is the task's error, not a crash.
trackRejections((tag, reason) => {
  const result = runner.rejected(tag, reason);
  if (result) port.postMessage({ type: 'rejection', batchId: tag.batch, result } satisfies FromWorker);
});

// Batches arrive ahead of time (the pool keeps a worker's next batch waiting in its port);
// they run one after another, never interleaved, as one task at a time per worker promises.
let previous: Promise<unknown> = Promise.resolve();
// Batches cancelled while they waited their turn here: they never start.
const cancelled = new Set<number>();

// Where this thread is in its batch, in memory the pool reads should the thread die (progress.ts).
const sharedProgress = (workerData as { progress?: Float64Array } | null)?.progress;
if (sharedProgress) progress.cell = sharedProgress;

// Set by a pool that recycles workers by memory: each reply says how much this thread's heap holds.
const reportMemory = (workerData as { reportMemory?: boolean } | null)?.reportMemory === true;

/** Answer a batch: plain values are cloned by postMessage, packed results move rather than copy. */
function reply(batch: WireBatch, answer: WireReply): void {
  if (reportMemory) answer.memory = heapInUse();
  try {
    port!.postMessage(compactReply(batch.id, answer), transferable(answer.packed));
  } catch {
    // postMessage refused a value (a symbol, say): the serializer carries it, or names it.
    const packed = runner.repack(batch, answer);
    port!.postMessage({ type: 'reply', batchId: batch.id, ...packed } satisfies FromWorker, transferable(packed.packed));
  }
}

// Batches not yet answered: a batch that arrives when there are none may run at once.
let inFlight = 0;

/** Run or queue one message from the main thread. */
function receive(received: ToWorker | CompactBatch): void {
  const message = expandBatch(received);
  if (message.type === 'forget') return runner.forget(message.ids);
  if (message.type === 'cancel') return void cancelled.add(message.batchId);
  const { batch } = message;
  inFlight++;
  const answered = (answer: WireReply) => {
    inFlight--;
    reply(batch, answer);
    scheduleWait();
  };
  if (inFlight === 1) {
    // Nothing ahead of it: run it now, and answer from this handler when no task had to be awaited.
    const answer = cancelled.delete(batch.id) ? { failures: [] } : runner.runBatchNow(batch, true);
    if (!(answer instanceof Promise)) return answered(answer);
    previous = answer.then(answered, dieLoudly);
    return;
  }
  previous = previous.then(() => (cancelled.delete(batch.id) ? { failures: [] } : runner.runBatchNow(batch, true))).then(answered, dieLoudly);
}

// Set by the thread backend: the count of messages posted here, which an idle worker can sleep on (wake.ts).
const wake = (workerData as { wake?: Int32Array } | null)?.wake;
let lingering = false;
let waitScheduled = false;
/**
 * While batches keep coming, how long the worker may go from one turn of its event loop to the
 * next. Some work waits for a turn and cannot be seen from here: an unref'd timer, a zlib or
 * crypto callback from the thread pool, the check for unhandled promise rejections.
 */
const TURN_MS = 10;
/** When the event loop last ran a callback of this thread (the 'message' event or an immediate). */
let lastTurn = 0;

/**
 * After an answer, wait for the next batch on the shared counter rather than in the event loop,
 * which wakes slower (wake.ts), once what the tasks left queued has run: a microtask that queues
 * a tick runs the wait after every promise reaction (Node drains the whole microtask queue
 * before it turns to ticks), so the timers and I/O those reactions start are in place when
 * loopIsFree looks. One batch per wait, for the same reason; and at least every TURN_MS the way
 * back goes through the event loop (an immediate), for what only a turn of the loop runs. The
 * chain of microtask and tick costs nothing measurable; an immediate per batch cost 3 µs.
 */
function scheduleWait(): void {
  if (!wake || lingering || waitScheduled) return;
  waitScheduled = true;
  if (performance.now() - lastTurn < TURN_MS) queueMicrotask(() => process.nextTick(waitBriefly));
  else setImmediate(afterTurn);
}

function afterTurn(): void {
  lastTurn = performance.now();
  waitBriefly();
}

function waitBriefly(): void {
  waitScheduled = false;
  if (!loopIsFree()) return;
  lingering = true;
  let received = false;
  try {
    received = linger(wake!, port!, LINGER_MS, loopIsFree, (message) => receive(message as ToWorker | CompactBatch));
  } finally {
    lingering = false;
  }
  if (received) scheduleWait();
}

/**
 * Nothing else needs this thread's event loop: no batch in flight, no worker stream holding
 * output for the main thread, and no resource but message ports (this thread's own): a task
 * left no timer, immediate, socket or file operation behind (0.2 µs to ask).
 */
function loopIsFree(): boolean {
  if (inFlight || process.stdout.writableLength || process.stderr.writableLength) return false;
  for (const resource of process.getActiveResourcesInfo()) if (resource !== 'MessagePort') return false;
  return true;
}

port.on('message', (received: ToWorker | CompactBatch) => {
  if (wake) lastTurn = performance.now();
  receive(received);
  scheduleWait();
});

/** runBatch does not reject by design; if it ever does, die loudly rather than leave the batch waiting. */
function dieLoudly(error: unknown): never {
  throw error;
}

port.postMessage({ type: 'ready' } satisfies FromWorker);
loadAfterReady();

// An exception outside any task (a throwing timer, say) is left uncaught on purpose:
// the thread dies, its 'error' event names the cause, and the pool replaces it.
