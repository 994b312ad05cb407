/**
 * What each built-in serializer costs on the payload of joblib's
 * "serialization and wrappers" example: the argument array `[i, largeList]`,
 * largeList being 1,000,000 integers. The list dominates every payload, so
 * this is the price of moving a large argument, which the choice of
 * serializer decides.
 *
 * - "codec": serialize + deserialize in this thread, nothing else: the
 *   serializer's own cost.
 * - "end to end": one task `delayed(funcAsync)(i, largeList)` through
 *   `new Parallel({ nJobs: 2, serializer, maxNbytes: null })` on worker threads (no
 *   automatic sharing, so the list goes through the serializer with every task): encoding,
 *   the copy to the worker, decoding there, the call, and the result back.
 *   Each serializer has its own pool, started and warmed before timing and
 *   reused by every sample, so worker start-up is not counted.
 *
 * Every time is divided by the time of 'structured', the default, measured in
 * the same suite of the same run. Raw results (every sample) go to
 * bench/results/serializers-<suite>.json, with a chart drawn from each
 * (.chart.html, not committed), the printed tables to serializers.md.
 *
 * `i` changes at every call. With a fixed `i` the 'javascript' text would be
 * the same every time, and V8's eval cache would skip parsing it from the
 * third call on (about 90 ms down to 5 ms here): a measure of the cache, not
 * of the codec, and not what a run over varied arguments sees.
 *
 * Run: npm run build && node dist/bench/serializers.js
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import b from 'benny';
import { addAsync, progress, saves, type Summary } from './lib/benny.js';
import { RESULTS } from './lib/paths.js';
import { cpusLine, markdownTable } from './lib/report.js';
import { Parallel, delayed, getSerializer, listSerializers } from 'joblet';

const BASELINE = 'structured';
const LIST_LENGTH = 1_000_000;
// Short runs, so that the whole bench takes about a minute on 2 cores: the
// slowest codec takes about a second per call, and 5 samples of it still
// give a margin of error well under the differences measured.
const CASE_OPTIONS = { minSamples: 5, maxTime: 2 };

// joblib's func_async. Task functions travel as source text and are compiled
// again in the worker, so it reads its arguments and nothing else.
const funcAsync = (i: number, list: number[]) => 2 * i;

const largeList = Array.from({ length: LIST_LENGTH }, (_, i) => i);
let calls = 0;
/** A new first element at every call; see the note at the top. */
const nextI = () => (calls = (calls + 1) % 1_000_000_000);

// Baseline first, then every other registered serializer in registry order.
const serializers = [BASELINE, ...listSerializers().filter((name) => name !== BASELINE)];

/** The codec round trip once, checked, or the reason it cannot carry the payload. */
function codecProblem(name: string): string | undefined {
  try {
    const serializer = getSerializer(name);
    const out = serializer.deserialize(serializer.serialize([21, largeList])) as [number, number[]];
    const list = out[1];
    const intact = out[0] === 21 && list.length === LIST_LENGTH && list[0] === 0 && list[LIST_LENGTH - 1] === LIST_LENGTH - 1;
    return intact ? undefined : 'the payload came back changed';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

interface Row {
  serializer: string;
  opsPerSecond: number;
  msPerOp: number;
  /** Relative margin of error, in percent (95% confidence). */
  rme: number;
  samples: number;
  ratio: number;
}

const skipped: string[] = [];

function rowsOf(summary: Summary): Row[] {
  // benny rounds `ops` for display; the mean time per op is exact.
  const base = summary.results.find((r) => r.name === BASELINE);
  if (!base) throw new Error(`the baseline '${BASELINE}' has no result`);
  return summary.results.map((r) => ({
    serializer: r.name,
    opsPerSecond: 1 / r.details.mean,
    msPerOp: r.details.mean * 1000,
    rme: r.details.relativeMarginOfError,
    samples: r.samples,
    ratio: r.details.mean / base.details.mean,
  }));
}

function table(title: string, rows: Row[]): string {
  return [
    `### ${title}`,
    markdownTable(
      ['serializer', 'ops/s', 'ms per op', '±', 'samples', `ratio to ${BASELINE}`],
      ['---', '---:', '---:', '---:', '---:', '---:'],
      rows.map((r) => [r.serializer, r.opsPerSecond.toFixed(2), r.msPerOp.toFixed(1), `${r.rme.toFixed(1)}%`, String(r.samples), `${r.ratio.toFixed(2)}×`]),
    ),
  ].join('\n\n');
}

async function codecSuite(): Promise<Row[]> {
  const cases = serializers.map((name) => {
    const serializer = getSerializer(name);
    return b.add(name, () => {
      const i = nextI();
      const out = serializer.deserialize(serializer.serialize([i, largeList])) as unknown[];
      if (out[0] !== i) throw new Error(`'${name}' returned ${String(out[0])} for ${i}`);
    });
  });
  const summary = await b.suite(
    'codec',
    b.configure({ minDisplayPrecision: 2, cases: CASE_OPTIONS }),
    ...cases,
    progress('ops/s'),
    ...saves('serializers-codec'),
  );
  return rowsOf(summary);
}

async function endToEndSuite(): Promise<Row[]> {
  // maxNbytes: null: a list this large would otherwise be shared for the run, bypassing the serializer this suite measures.
  const pools = new Map(serializers.map((serializer) => [serializer, new Parallel({ nJobs: 2, serializer, maxNbytes: null })]));
  const closeAll = () => Promise.all([...pools.values()].map((pool) => pool.close()));
  const fail = (error: unknown) => {
    console.error('\nThe end-to-end suite failed:', error);
    void closeAll().finally(() => process.exit(1));
  };
  try {
    // Start both workers of each pool and compile funcAsync in them: start-up is not what is measured here.
    for (const pool of pools.values()) await pool.run([delayed(funcAsync)(0, []), delayed(funcAsync)(0, [])]);
    const cases = [...pools].map(([name, pool]) =>
      addAsync(
        name,
        async () => {
          const i = nextI();
          const [result] = await pool.run([delayed(funcAsync)(i, largeList)]);
          if (result !== 2 * i) throw new Error(`'${name}' returned ${String(result)} for funcAsync(${i})`);
        },
        fail,
      ),
    );
    const summary = await b.suite(
      'end to end',
      b.configure({ minDisplayPrecision: 2, cases: CASE_OPTIONS }),
      ...cases,
      progress('ops/s'),
      ...saves('serializers-end-to-end'),
    );
    return rowsOf(summary);
  } finally {
    await closeAll();
  }
}

const started = performance.now();
console.log(
  `node ${process.version}, ${cpusLine()}, load ${os.loadavg()[0]!.toFixed(2)}; ` +
    `payload [i, ${LIST_LENGTH.toLocaleString('en-US')} integers]\n`,
);
for (const name of [...serializers]) {
  const problem = codecProblem(name);
  if (problem === undefined) continue;
  if (name === BASELINE) throw new Error(`the baseline '${BASELINE}' cannot carry the payload: ${problem}`);
  serializers.splice(serializers.indexOf(name), 1);
  skipped.push(`${name}: ${problem}`);
}

const codec = await codecSuite();
const endToEnd = await endToEndSuite();
const seconds = (performance.now() - started) / 1000;

const report = [
  table(`codec: serialize + deserialize of [i, ${LIST_LENGTH.toLocaleString('en-US')} integers], in this thread`, codec),
  table('end to end: one task funcAsync(i, largeList), Parallel({ nJobs: 2 }) on warm worker threads', endToEnd),
  ...(skipped.length ? [`Skipped (cannot carry the payload): ${skipped.join('; ')}`] : []),
  `ms per op is the mean; ± is the relative margin of error (95%). Wall time ${seconds.toFixed(0)} s, load ${os.loadavg()[0]!.toFixed(2)}.`,
].join('\n\n');
console.log(`\n${report}`);
writeFileSync(`${RESULTS}serializers.md`, `${report}\n`);
