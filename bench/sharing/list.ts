/**
 * 1. "list": joblib's example, `delayed((i, list) => list.length + i)(i,
 *    largeList)` over 200 tasks, largeList = 1,000,000 integers. Copied
 *    (`maxNbytes: null`, the baseline) against shared automatically (the
 *    default maxNbytes '1M': the list goes to each worker once per run),
 *    and a floor row, a task that reads only `i`. Target: at least 20 times
 *    less time per task when shared, judged on the means and on the fastest
 *    samples. Results: bench/results/sharing-list.json and its chart.
 */
import { delayed } from 'joblet';
import { verdict } from '../lib/report.js';
import { LIST_COPIED_OPTIONS, casesOn, rowOf, runSuite, type Case, type Row } from './suite.js';

export const LIST_LENGTH = 1_000_000;
export const LIST_TASKS = 200;
/** Copied per task over shared per task, at least (issue 4). */
const LIST_TARGET = 20;

// Task functions travel as their source: each reads only its arguments.
const listLength = (i: number, list: number[]) => list.length + i;
const floor = (i: number) => i;

export const largeList = Array.from({ length: LIST_LENGTH }, (_, i) => i);
const listIndices = Array.from({ length: LIST_TASKS }, (_, i) => i);

export interface ListSuite {
  cases: Case[];
  rows: Row[];
}

/** Run first, before any sharedArray or persist() exists: as in a process that uses neither. */
export async function measureList(): Promise<ListSuite> {
  const listExpected = (i: number) => LIST_LENGTH + i;
  const smallList = (i: number) => delayed(listLength)(i, [i]);
  const listCase = casesOn({ indices: listIndices, warm: smallList, expected: listExpected });
  const cases: Case[] = [
    await listCase({
      name: 'copied',
      given: '`delayed(listLength)(i, largeList)` with `maxNbytes: null`: the list cloned with every task',
      options: LIST_COPIED_OPTIONS,
      maxNbytes: null,
      task: (i) => delayed(listLength)(i, largeList),
    }),
    await listCase({
      name: 'shared automatically',
      given: "the same, default `maxNbytes` ('1M'): the list sent to each worker once per run",
      task: (i) => delayed(listLength)(i, largeList),
    }),
    await listCase({
      name: 'floor (no list)',
      given: '`delayed((i) => i)(i)`: a task with nothing to move',
      task: (i) => delayed(floor)(i),
      warm: (i) => delayed(floor)(i),
      expected: (i) => i,
    }),
  ];
  const rows = await runSuite(
    `list: ${LIST_TASKS} tasks (i, list) => list.length + i, list = ${LIST_LENGTH.toLocaleString('en-US')} integers`,
    'list',
    cases,
    LIST_TASKS,
  );
  return { cases, rows };
}

/** The target's line under 'Targets'. */
export function listTarget({ rows }: ListSuite): string {
  const listShared = rowOf(rows, 'shared automatically');
  const listVerdict = verdict(1 / listShared.ratio >= LIST_TARGET, 1 / listShared.fastestRatio >= LIST_TARGET);
  return (
    `- list, shared automatically, at least ${LIST_TARGET} times less time per task than copied: **${listVerdict}**; ` +
    `${(1 / listShared.ratio).toFixed(1)} times less (means), ${(1 / listShared.fastestRatio).toFixed(1)} times less (fastest samples)`
  );
}
