/**
 * Draws every chart from the committed results: bench/results/<name>.chart.html
 * from each <name>.json that holds one (benny's saves, and the files with a
 * `chart` field). The benches draw their own after each run; this is for a
 * fresh checkout, where only the JSON is committed.
 *
 * Run: npm run bench:charts (npm run build && node dist/bench/charts.js)
 */
import { readdirSync } from 'node:fs';
import { writeChart } from './lib/chart.js';
import { RESULTS } from './lib/paths.js';

for (const file of readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort()) {
  const name = file.slice(0, -'.json'.length);
  if (writeChart(name)) console.log(`${RESULTS}${name}.chart.html`);
}
