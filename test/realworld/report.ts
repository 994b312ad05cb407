/**
 * The conformance report: `node dist/test/realworld/report.js` (or
 * `npm run conformance`) runs every case on 'threads' and 'processes' and
 * prints one row per case, the totals, the capture times, and each WRONG,
 * SLOW and REFUSED case with the first line of its error.
 */
import { fileURLToPath } from 'node:url';
import { BACKENDS, runConformance, type CaseResult, type Outcome } from './harness.js';
import { loadAll } from './groups.js';

export interface Totals {
  cases: number;
  /** Cases carried on every backend. */
  carried: number;
  /** Cases refused (with path and remedy) on some backend and wrong on none. */
  refused: number;
  /** Cases WRONG or SLOW on some backend. */
  wrong: number;
  medianCaptureMs: number;
  maxCaptureMs: number;
}

const outcomes = (r: CaseResult): Outcome[] => BACKENDS.map((b) => r.results[b].outcome);

export function totalsOf(results: CaseResult[]): Totals {
  const times = results.map((r) => r.captureMs).sort((a, b) => a - b);
  const mid = times.length >> 1;
  return {
    cases: results.length,
    carried: results.filter((r) => outcomes(r).every((o) => o === 'CARRIED')).length,
    refused: results.filter((r) => outcomes(r).includes('REFUSED') && !outcomes(r).some((o) => o === 'WRONG' || o === 'SLOW')).length,
    wrong: results.filter((r) => outcomes(r).some((o) => o === 'WRONG' || o === 'SLOW')).length,
    medianCaptureMs: times.length === 0 ? 0 : times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2,
    maxCaptureMs: times.at(-1) ?? 0,
  };
}

const pad = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

export function formatReport(results: CaseResult[]): string {
  const lines: string[] = [];
  const nameWidth = Math.min(78, Math.max(...results.map((r) => r.case.name.length)));
  lines.push(`${pad('case', nameWidth)}  ${pad('source', 15)}  ${pad('threads', 8)}  ${pad('processes', 9)}  ${'capture ms'.padStart(10)}`);
  lines.push(`${'-'.repeat(nameWidth)}  ${'-'.repeat(15)}  ${'-'.repeat(8)}  ${'-'.repeat(9)}  ${'-'.repeat(10)}`);
  for (const r of results) {
    lines.push(`${pad(r.case.name, nameWidth)}  ${pad(r.case.source, 15)}  ${pad(r.results.threads.outcome, 8)}  ${pad(r.results.processes.outcome, 9)}  ${r.captureMs.toFixed(1).padStart(10)}`);
  }
  const t = totalsOf(results);
  lines.push('');
  lines.push(`${t.cases} cases: ${t.carried} carried on both backends (${((100 * t.carried) / t.cases).toFixed(1)}%), ${t.refused} refused with a path and a remedy, ${t.wrong} wrong (a different answer, a worker error, or a capture over the cap)`);
  lines.push(`first capture (getSerializer('auto').serialize of the task): median ${t.medianCaptureMs.toFixed(1)} ms, max ${t.maxCaptureMs.toFixed(1)} ms (targets: median under 50 ms, never more than 1000 ms before a refusal)`);
  const slowest = [...results].sort((a, b) => b.captureMs - a.captureMs).slice(0, 5);
  lines.push(`slowest captures: ${slowest.map((r) => `${r.case.name} ${r.captureMs.toFixed(0)} ms`).join('; ')}`);
  for (const kind of ['WRONG', 'SLOW', 'REFUSED'] as const) {
    const hit = results.filter((r) => outcomes(r).includes(kind));
    if (hit.length === 0) continue;
    lines.push('');
    lines.push(`${kind} (${hit.length}):`);
    for (const r of hit) {
      const details = BACKENDS.filter((b) => r.results[b].outcome === kind).map((b) => `${b}: ${r.results[b].detail ?? ''}`);
      // The same detail on both backends is printed once.
      const unique = new Set(BACKENDS.filter((b) => r.results[b].outcome === kind).map((b) => r.results[b].detail));
      lines.push(`- ${r.case.name}`);
      if (unique.size === 1) lines.push(`    ${details.length === 2 ? 'both' : details[0]!.split(':')[0]}: ${[...unique][0] ?? ''}`);
      else for (const d of details) lines.push(`    ${d}`);
    }
  }
  return lines.join('\n');
}

// Run as a script: print the report.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { groups, remove } = await loadAll();
  try {
    let last = performance.now();
    const results = await runConformance(groups, (r) => {
      const now = performance.now();
      process.stderr.write(`${r.case.name}: ${BACKENDS.map((b) => r.results[b].outcome).join('/')} (${(now - last).toFixed(0)} ms ${JSON.stringify(r.steps)})\n`);
      last = now;
    });
    console.log(formatReport(results));
  } finally {
    remove();
  }
}
