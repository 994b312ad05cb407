/** What the benchmarks' reports share: the machine line, tables, medians, verdicts. */
import os from 'node:os';

export const markdownTable = (header: string[], align: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((cells) => `| ${cells.join(' | ')} |`)].join('\n');

/** `2 × <model>`: the CPUs node sees. */
export const cpusLine = () => {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}`;
};

/** The three load averages, `1.52, 1.61, 1.70`. */
export const loadAverages = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

export const sortedCopy = (values: readonly number[]) => [...values].sort((a, b) => a - b);

export const median = (values: readonly number[]) => {
  const sorted = sortedCopy(values);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** A target judged twice (say on the means and on the fastest samples): met when both pass, missed when both fail. */
export const verdict = (meanOk: boolean, otherOk: boolean) =>
  meanOk && otherOk ? 'met' : !meanOk && !otherOk ? 'MISSED' : 'borderline (within the noise)';

export const thousands = (value: number) => Math.round(value).toLocaleString('en-US');

/** The notes under a table: one line per case, saying how it is called. */
export const notes = (cases: { name: string; given: string }[]) =>
  cases.map((c, k) => `- ${c.name}: ${c.given}${k === cases.length - 1 ? '.' : ';'}`).join('\n');

/** `median× (min–max)` of some ratios. */
export const spread = (values: number[], digits: number) =>
  `${median(values).toFixed(digits)}× (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
