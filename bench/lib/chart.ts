/**
 * The benchmarks' one chart template: a bar chart (Chart.js from its CDN)
 * drawn from a results JSON, written next to it as <name>.chart.html. The
 * JSON is what is committed; the HTML is produced by the bench that wrote
 * it, or for every JSON at once by `npm run bench:charts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { RESULTS } from './paths.js';

export interface BarChart {
  title: string;
  /** The value axis's title. */
  axis: string;
  labels: string[];
  datasets: { label: string; data: number[] }[];
}

/** The chart a results file holds: a benny save (ops/s of each case), or a `chart` field its bench wrote; undefined for neither. */
export function chartOf(json: unknown): BarChart | undefined {
  const saved = json as { name?: string; results?: { name: string; ops: number }[]; chart?: BarChart };
  if (saved.chart) return saved.chart;
  if (saved.name === undefined || !Array.isArray(saved.results)) return undefined;
  return {
    title: saved.name,
    axis: 'Operations per second',
    labels: saved.results.map((r) => r.name),
    datasets: [{ label: 'ops/s', data: saved.results.map((r) => r.ops) }],
  };
}

/**
 * The page. One dataset: each bar coloured by its share of the highest, as
 * benny's charts were; several: one colour each, with a legend.
 */
export function chartHtml(chart: BarChart): string {
  const single = chart.datasets.length === 1;
  const colours = ['hsl(120, 85%, 55%)', 'hsl(30, 85%, 55%)', 'hsl(210, 85%, 55%)'];
  const datasets = chart.datasets.map((d, k) => {
    const highest = Math.max(...d.data);
    const backgroundColor = single ? d.data.map((v) => `hsl(${highest > 0 ? (120 * v) / highest : 0}, 85%, 55%)`) : colours[k % colours.length];
    return { label: d.label, data: d.data.map((v) => Number(v.toFixed(2))), backgroundColor };
  });
  const options = {
    maintainAspectRatio: false,
    plugins: { title: { display: true, text: chart.title, font: { size: 20 }, padding: 20 }, legend: { display: !single } },
    scales: { y: { title: { display: true, text: chart.axis, padding: 10 } } },
  };
  const escaped = chart.title.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8" />
<script src="https://cdn.jsdelivr.net/npm/chart.js@3.5.1/dist/chart.min.js"></script>
<title>${escaped}</title>
</head>
<body style="margin: 0; background: #ddd">
<div style="box-sizing: border-box; height: 96vh; width: 96vw; margin: 2vh 2vw; padding: 20px; background: white">
<canvas id="chart"></canvas>
</div>
<script>
new Chart(document.getElementById('chart'), {
  type: 'bar',
  data: ${JSON.stringify({ labels: chart.labels, datasets })},
  options: ${JSON.stringify(options)},
});
</script>
</body>
</html>
`;
}

/** bench/results/<name>.chart.html drawn from bench/results/<name>.json; false if that file holds no chart. */
export function writeChart(name: string): boolean {
  const chart = chartOf(JSON.parse(readFileSync(`${RESULTS}${name}.json`, 'utf8')));
  if (chart) writeFileSync(`${RESULTS}${name}.chart.html`, chartHtml(chart));
  return chart !== undefined;
}

/** A results file of the bench's own (not benny's): its figures and the chart they draw, then the chart itself. */
export function saveWithChart(name: string, figures: object, chart: BarChart): void {
  writeFileSync(`${RESULTS}${name}.json`, JSON.stringify({ ...figures, chart }, null, 2));
  writeChart(name);
}
