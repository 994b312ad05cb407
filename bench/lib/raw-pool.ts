/** The raw baseline: worker_threads with nothing between the caller and postMessage. */
import { Worker } from 'node:worker_threads';
import { WORKERS } from './paths.js';

/**
 * The baselines: bare workers running bench/lib/workers/raw.ts. A
 * worker answers in the order it was sent, so replies are matched by
 * counting, with no id on the wire and no promise per task.
 */
export class RawPool {
  private readonly workers: Worker[];
  private onReply: (worker: number, reply: unknown) => void = () => {};

  constructor(size: number) {
    this.workers = Array.from({ length: size }, (_, k) => {
      const worker = new Worker(new URL('raw.js', WORKERS));
      worker.on('message', (reply: unknown) => this.onReply(k, reply));
      return worker;
    });
  }

  /** One message per task, dealt round robin. */
  perTask(values: readonly number[]): Promise<number[]> {
    const n = this.workers.length;
    return new Promise((resolve) => {
      const results = new Array<number>(values.length);
      const answered = this.workers.map(() => 0);
      let left = values.length;
      this.onReply = (k, reply) => {
        results[k + n * answered[k]!++] = reply as number;
        if (--left === 0) resolve(results);
      };
      for (let i = 0; i < values.length; i++) this.workers[i % n]!.postMessage(values[i]);
    });
  }

  /** `size` tasks per message (an array of numbers), dealt round robin. */
  batched(values: readonly number[], size: number): Promise<number[]> {
    const n = this.workers.length;
    const chunks = Math.ceil(values.length / size);
    return new Promise((resolve) => {
      const results = new Array<number>(values.length);
      const answered = this.workers.map(() => 0);
      let left = chunks;
      this.onReply = (k, reply) => {
        const start = (k + n * answered[k]!++) * size;
        const replied = reply as number[];
        for (let j = 0; j < replied.length; j++) results[start + j] = replied[j]!;
        if (--left === 0) resolve(results);
      };
      for (let c = 0; c < chunks; c++) this.workers[c % n]!.postMessage(values.slice(c * size, (c + 1) * size));
    });
  }

  /** Any messages, one each, dealt round robin; the replies in order. */
  each<T>(messages: readonly unknown[]): Promise<T[]> {
    const n = this.workers.length;
    return new Promise((resolve) => {
      const results = new Array<T>(messages.length);
      const answered = this.workers.map(() => 0);
      let left = messages.length;
      this.onReply = (k, reply) => {
        results[k + n * answered[k]!++] = reply as T;
        if (--left === 0) resolve(results);
      };
      messages.forEach((message, i) => this.workers[i % n]!.postMessage(message));
    });
  }

  /** One task to the first worker and its answer: a bare postMessage round trip. */
  roundTrip(x: number): Promise<number> {
    return new Promise((resolve) => {
      this.onReply = (_, reply) => resolve(reply as number);
      this.workers[0]!.postMessage(x);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
