/**
 * piscina's and tinypool's worker for bench/dispatch/: the tiny task
 * `x + 1`, and the busy loop of the CPU-bound case. Both pools call the
 * default export with the value given to `run()`; imports nothing.
 */
import { spin } from './spin.js';

export default function inc(task: number | { iterations: number; seed: number }): number {
  return typeof task === 'number' ? task + 1 : spin(task.iterations, task.seed);
}
