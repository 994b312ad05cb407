// npm run fuzz: thousands of hostile values (test/fuzz/recipes.ts) as arguments, captured values
// and results under every serializer, on threads and processes, each run in a child process
// under a watchdog (test/fuzz/driver.ts). Prints the cases run, the failures with the command
// that reproduces each, and what was met. Exits non-zero on any failure.
//   npm run fuzz -- [--runs N] [--seed S] [--from I] [--hang-ms MS]
import { parseArgs } from 'node:util';
import { fuzz, formatFailure } from '../dist/test/fuzz/driver.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.FUZZ_RUNS ?? '3000' },
    seed: { type: 'string', default: process.env.FUZZ_SEED ?? String(Date.now() % 1_000_000) },
    from: { type: 'string', default: '0' },
    'hang-ms': { type: 'string', default: '120000' },
  },
});
const seed = Number(values.seed);
const runs = Number(values.runs);
const started = Date.now();
let seen = 0;
console.log(`fuzz: ${runs} cases from ${values.from}, seed ${seed}`);
const summary = await fuzz({
  seed,
  runs,
  from: Number(values.from),
  hangMs: Number(values['hang-ms']),
  onEvent: (event) => {
    if (event.event === 'start' || event.event === 'end') return;
    if (++seen % 250 === 0) console.log(`  ${seen} cases, ${Math.round((Date.now() - started) / 1000)} s`);
  },
});
for (const failure of summary.failures) console.log(`\n${formatFailure(failure)}`);
console.log(`\ncases run: ${summary.casesRun} (seed ${seed}) in ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`arrived as the serializer's round trip makes them: ${summary.same}; refused with a SerializationError (path + serializer): ${summary.refused}`);
console.log(`failures: ${summary.failures.length}${summary.failures.length ? ` (${Object.entries(summary.failures.reduce((n, f) => ({ ...n, [f.kind]: (n[f.kind] ?? 0) + 1 }), {})).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`);
console.log(`per serializer (same / refused): ${Object.entries(summary.bySerializer).map(([s, r]) => `${s} ${r.same}/${r.refused}`).join(', ')}`);
console.log(`kinds met (cases holding each): ${Object.entries(summary.kinds).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
console.log('refusals (serializer: problem, count):');
for (const [why, n] of Object.entries(summary.refusals).sort((a, b) => a[0].localeCompare(b[0]))) console.log(`  ${n}\t${why}`);
process.exitCode = summary.failures.length ? 1 : 0;
