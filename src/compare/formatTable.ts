import type { SerializerComparison } from './types.js';

const HEADERS = ['serializer', 'result', 'bytes', 'encode ms', 'decode ms', 'fidelity'] as const;
// Columns whose figures line up on the right.
const RIGHT = new Set([2, 3, 4]);

const ms = (value: number | null) => (value === null ? '-' : value.toFixed(3));

/** The lines of the last column for one row: its differences, or its error and the remedy. */
function details(row: SerializerComparison): string[] {
  if (row.error) return [`${row.error.path ? `at ${row.error.path}: ` : ''}${row.error.problem}`, `remedy: ${row.error.remedy}`];
  const carried = row.carried
    ? [
        ...(row.carried.byReference.length ? [`by reference: ${row.carried.byReference.join('; ')}`] : []),
        ...(row.carried.byValue.length ? [`by value: ${row.carried.byValue.join('; ')}`] : []),
      ]
    : [];
  if (row.fidelity === null) return [row.fidelityError ?? 'not checked', ...carried];
  if (row.fidelity.length === 0) return ['no difference found', ...carried];
  const lines = row.fidelity.map((d) => d.text);
  if (row.fidelityOmitted) lines.push(`… and ${row.fidelityOmitted} more`);
  return [...lines, ...carried];
}

function result(row: SerializerComparison): string {
  if (row.ok) return 'ok';
  return row.error?.stage === 'deserialize' ? 'decode failed' : 'refused';
}

/**
 * compareSerializers' rows as a plain-text table with aligned columns. A row
 * with several differences continues on the following lines, in the last
 * column; a refused value shows the problem and the remedy there instead.
 */
export function formatComparisonTable(rows: readonly SerializerComparison[]): string {
  const table: string[][] = [[...HEADERS]];
  for (const row of rows) {
    const [first = '', ...rest] = details(row);
    table.push([row.serializer, result(row), row.bytes === null ? '-' : String(row.bytes), ms(row.encodeMs), ms(row.decodeMs), first]);
    for (const line of rest) table.push(['', '', '', '', '', line]);
  }
  const widths = HEADERS.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
  return table
    .map((cells) =>
      cells
        .map((cell, column) => (column === cells.length - 1 ? cell : RIGHT.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
