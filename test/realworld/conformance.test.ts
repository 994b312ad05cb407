/**
 * The real-world conformance suite (issue 13): every case runs in a real
 * worker on 'threads' and on 'processes' under the default serializer and is
 * either CARRIED with the main thread's answer or REFUSED at submission with
 * a path and a remedy. Any other answer is WRONG.
 *
 * KNOWN_WRONG lists the cases that answer wrong today, each with why. It may
 * only shrink: the suite fails when a case not listed answers wrong, and
 * also when a listed case now answers right (delete its line then).
 * `npm run conformance` prints the full table.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BACKENDS, runConformance, type CaseResult } from './harness.js';
import { loadAll } from './groups.js';
import { formatReport, totalsOf } from './report.js';

const ITEM3_REGISTRY = 'item 3: a class whose static Map holds its own subclass is rebuilt before its base ("Class extends value undefined")';
const ITEM2_ES5 = 'item 2: ES5 class members set through Object.defineProperty / __extends are lost (undefined getters, missing methods)';

/** Case name -> why it answers wrong today. Delete a line when its fix lands. */
export const KNOWN_WRONG: Record<string, string> = {
};

const isWrong = (r: CaseResult) => BACKENDS.some((b) => r.results[b].outcome === 'WRONG' || r.results[b].outcome === 'SLOW');
const why = (r: CaseResult) =>
  BACKENDS.filter((b) => r.results[b].outcome !== 'CARRIED')
    .map((b) => `${b} ${r.results[b].outcome}: ${r.results[b].detail ?? ''}`)
    .join(' | ');

const test = suite('real-world conformance: carried with the same answer, or refused with a path and a remedy');
let results: CaseResult[] = [];

test.before(async () => {
  const { groups, remove } = await loadAll();
  try {
    results = await runConformance(groups);
  } finally {
    remove();
  }
  const t = totalsOf(results);
  console.log(
    `  conformance: ${t.cases} cases, ${t.carried} carried (${((100 * t.carried) / t.cases).toFixed(1)}%), ${t.refused} refused, ${t.wrong} wrong; ` +
      `first capture median ${t.medianCaptureMs.toFixed(1)} ms, max ${t.maxCaptureMs.toFixed(0)} ms`,
  );
});

test('the suite ran its cases, from every source kind', () => {
  assert.ok(results.length >= 60, `only ${results.length} cases ran`);
  const kinds = new Set(results.map((r) => r.case.source));
  for (const kind of ['tsc-es2022', 'tsc-cjs', 'tsc-es5', 'esbuild-esm', 'esbuild-cjs-min', 'tsx', 'lodash', 'lodash-es', 'zod', 'immer', 'mathjs', 'handwritten']) {
    assert.ok(kinds.has(kind as never), `no case from ${kind}`);
  }
});

test('no case answers wrong unless it is in KNOWN_WRONG', () => {
  const fresh = results.filter((r) => isWrong(r) && !(r.case.name in KNOWN_WRONG));
  assert.ok(fresh.length === 0, `new WRONG answers:\n${fresh.map((r) => `  ${r.case.name}: ${why(r)}`).join('\n')}`);
});

test('every case in KNOWN_WRONG still answers wrong (delete the lines of those fixed)', () => {
  const names = new Set(results.map((r) => r.case.name));
  const unknown = Object.keys(KNOWN_WRONG).filter((name) => !names.has(name));
  assert.ok(unknown.length === 0, `KNOWN_WRONG names cases that do not exist:\n  ${unknown.join('\n  ')}`);
  const fixed = results.filter((r) => r.case.name in KNOWN_WRONG && !isWrong(r));
  assert.ok(fixed.length === 0, `now answered right or refused properly, delete from KNOWN_WRONG:\n${fixed.map((r) => `  ${r.case.name}${why(r) ? ` (${why(r)})` : ''}`).join('\n')}`);
});

test('every refusal happens at submission and names a path and a remedy', () => {
  // The harness counts a refusal without path or remedy, or one raised in the worker, as WRONG;
  // this checks what it kept as REFUSED carries the path it reported.
  for (const r of results) {
    for (const b of BACKENDS) {
      if (r.results[b].outcome === 'REFUSED') assert.match(r.results[b].detail ?? '', /^at \S/, `${r.case.name} on ${b}`);
    }
  }
});

test.after(() => {
  if (process.env.JOBLET_CONFORMANCE_REPORT) console.log(formatReport(results));
});

test.run();
