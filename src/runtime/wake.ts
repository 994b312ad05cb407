/**
 * A second way to wake a worker thread, beside its port: a counter in shared memory that the
 * main thread bumps after each message it posts there, and that an idle worker can sleep on
 * with Atomics.wait (piscina's idea). Waking a thread blocked on a futex costs less than
 * waking its event loop through the port: with the main thread and the worker on one CPU, a
 * bare round trip measured 13.8 µs this way against 19.1 µs through the event loop, and the
 * worker's share of the CPU fell from 11.5 to 6.9 µs.
 *
 * A worker sleeping here holds its event loop, so it does so for a bounded time (LINGER_MS)
 * after answering, when the next batch is likely to follow at once, and only when nothing a
 * task left behind needs that loop (threadWorker.ts decides); then it goes back to its event loop, where its own timers and I/O run
 * and the port wakes it as before. A leaf module: the thread backend and the worker runtime
 * both use it.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/**
 * How long an idle worker waits this way before it goes back to its event loop: the longest
 * that work the worker cannot see from JavaScript (an unref'd timer, a thread-pool callback)
 * may wait. Not shorter: a futex wait that times out soon arms a timer that comes before the
 * kernel's next tick, and on this virtual machine arming and cancelling it cost more than the
 * wait saves (a bare round trip on one CPU: 24.6 µs p50 with 1 ms here, 15.7 with 5 ms, 13.7
 * with 20 ms).
 */
export const LINGER_MS = 20;

/** The counter for one worker: index 0 counts the messages the main thread has posted to it. */
export function createWake(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/** Main thread, after each postMessage to the worker: count it, and wake the worker if it waits. */
export function notifyPosted(wake: Int32Array): void {
  Atomics.add(wake, 0, 1);
  Atomics.notify(wake, 0, 1);
}

/**
 * Worker: wait up to `ms` for the next message while `idle()` holds, and hand it to `receive`.
 * True if a message came; false when the time is up or `idle()` stopped holding. The count is
 * read before the port, so a message posted between the two makes the wait return at once.
 */
export function linger(wake: Int32Array, port: MessagePort, ms: number, idle: () => boolean, receive: (message: unknown) => void): boolean {
  const until = performance.now() + ms;
  while (idle()) {
    const seen = Atomics.load(wake, 0);
    const entry = receiveMessageOnPort(port);
    if (entry) {
      receive(entry.message);
      return true;
    }
    const left = until - performance.now();
    if (left <= 0 || Atomics.wait(wake, 0, seen, left) === 'timed-out') return false;
  }
  return false;
}
