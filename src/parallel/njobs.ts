import os from 'node:os';
import { describeValue } from './describe.js';

/** Number of CPUs this process may use. */
export function cpuCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export function checkNJobs(nJobs: unknown, where = 'nJobs'): asserts nJobs is number {
  if (typeof nJobs !== 'number') {
    throw new TypeError(`Expected \`${where}\` to be a non-zero integer (-1 means all cores, -2 all but one), got ${describeValue(nJobs)}`);
  }
  if (!Number.isInteger(nJobs) || nJobs === 0) {
    throw new RangeError(`Expected \`${where}\` to be a non-zero integer (-1 means all cores, -2 all but one), got ${describeValue(nJobs)}`);
  }
}

/**
 * Workers that `nJobs` asks for, with joblib's meaning of negative values:
 * -1 is every core, -2 all but one, and so on, never fewer than one.
 */
export function effectiveNJobs(nJobs = -1): number {
  checkNJobs(nJobs);
  return nJobs > 0 ? nJobs : Math.max(cpuCount() + 1 + nJobs, 1);
}
