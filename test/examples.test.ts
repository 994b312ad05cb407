/**
 * Every example runs as a user runs it: `node dist/examples/NAME.js` in a
 * child process. It must exit 0 within its time, write nothing to stderr,
 * leave no temporary file, and print the lines that show it did its job.
 * Examples are found on disk, so a new one is run without a change here; but
 * it fails until EXPECTED says what it must print.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lines each example must print: the ones that show it did what it is for. Numbers that vary are not pinned. */
const EXPECTED: Record<string, RegExp[]> = {
  'serialization-and-wrappers': [
    /^funcAsync\(21, largeList\)\s+structured\s+[\d.]+\s+ok$/m,
    /^scale\(21\), captures factor\s+structured\s+[\d.]+\s+refused at fn:/m,
    /^scale\(21\), captures factor\s+auto \(default\)\s+[\d.]+\s+ok$/m,
    /^Shared, each task costs \d+ times less than copied\.$/m,
  ],
  closures: [
    /^processes, serializer 'auto':$/m,
    /^Same totals as in the main thread/m,
    /^taxRate changed to 0\.25: basket 0 now costs 3\.44/m,
    /^ {2}path: +fn$/m,
    /^'structured' with wrapNonSerializable\(priceBasket\): 3\.44, 28\.80, 9\.75, 23\.06$/m,
  ],
  'sharing-a-model': [
    /^model passed as an argument\s+[\d.]+ ms\s+[\d.]+ ms per task$/m,
    /^persist\(model\), handle passed\s+[\d.]+ ms\s+[\d.]+ ms per task$/m,
    /^In this run, a task cost [\d.]+ times as much with the model copied as with it persisted/m,
    /the vectors are on a SharedArrayBuffer: true$/m,
    /^The same handle on 2 child processes: .* same results: true$/m,
    /^After close\(\), get\(\) throws: PersistedModel .* was closed/m,
  ],
  'shared-array': [
    /each task saw shared memory: true/,
    /the main thread sees every write: true/,
    /the output here is still all zeros: true/,
    /assembled output matches: true$/m,
  ],
  'pools-and-no-parallel': [
    /^processes +I\(V\) = \[0\.0000, 0\.0012, 0\.0226, 0\.1012, 0\.2000, 0\.3000\] +ran in: child process \d+/m,
    /^threads +I\(V\) = \[0\.0000, .*\] +ran in: worker thread \d+/m,
    /^inside noParallel\(\): parallelEnabled\(\) = false$/m,
    /^inline +I\(V\) = \[0\.0000, .*\] +ran in: the main thread/m,
    /^inline, serializer 'structured': refused at fn/m,
    /^processes pool, before and after close\(\): child process (\d+) -> child process (?!\1\b)\d+$/m,
    /^Counter after 400 tasks on threads: 400$/m,
    /^Counter after 400 tasks on processes: 800$/m,
  ],
  'choosing-a-serializer': [
    /^json +ok +\d+ .*\.orders\[\*\]\.placedAt: Date became string, in 3 places$/m,
    /^structured +ok +\d+ .*\.orders\[\*\]\.total: prototype Money lost \(plain object\), in 3 places$/m,
    /^javascript +refused .*function `withVat` uses `vatRate` from its enclosing scope/m,
    /^auto +ok +\d+ .*no difference found$/m,
    /^Carried withVat with its captured variable: closure, auto$/m,
  ],
  progress: [
    /^onProgress: 0 of 200 done at the start, then \d+ updates$/m,
    /^onProgress: 200 of 200 done, 0 failed/m,
    /^generator of unknown length: 150 done, total known at the end: 150$/m,
    /^profile: 200 tasks in \d+ batches on 2 workers/m,
    /^ {2}run +p50 [\d.]+ ms +p99 [\d.]+ ms/m,
    /^ {2}worker \d+: \d+ tasks, busy \d+% of the run$/m,
  ],
  'custom-serializer': [
    /^'msgpack': 20 tasks, revenue 253400\.00, latest order 2024-12-28T23:00:00\.000Z/m,
    /^Date +2024-01-02T00:00:00\.000Z +2024-01-02T00:00:00\.000Z$/m,
    /^Map with number keys +Map\(2\) \{ 1 => 'one', 2 => 'two' \} +\{ '1': 'one', '2': 'two' \}$/m,
    /^function in an object, 'msgpack': Cannot serialize: a function cannot be sent by 'msgpack' \(its capabilities say functions: false\)$/m,
    /^ {2}msgpack +[\d,]+ bytes$/m,
  ],
  // Without redis-server it skips, saying so (in CI redis-server is installed).
  distributed: [/^(2 joblet workers serve the queue|SKIP: redis-server not found)/m, /^(sqrt\(i \*\* 2\) on bullmq: \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\]|SKIP)/m, /^(a closure over a Map, remotely: \[11, 26, 5\]|SKIP)/m],
  'abort-and-timeout': [
    /^1\. timeout: TimeoutError \(a JobletError, taskIndex 1\): Task 1 did not finish within 300 ms/m,
    /^ {3}the same pool afterwards: \[10,20\]$/m,
    /^2\. AbortSignal\.timeout\(400\): after \d+ ms, TimeoutError \(not a JobletError\)/m,
    /^ {3}tasks started: (\d+) of 40; 150 ms later still \1: queued tasks never start$/m,
    /^3\. generator_unordered \+ break: nonce 68304 /m,
    /^4\. close\(\) during a run: AbortError \(a JobletError/m,
  ],
};

/** What Node itself may print to stderr without anything being wrong. */
const HARMLESS_STDERR = [/^\(node:\d+\) ExperimentalWarning: /, /^\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)$/];
/** What an example writes to stderr on purpose (a Counter's message, verbose lines, a progress bar): it must, and nothing else. */
const STDERR: Record<string, RegExp[]> = {
  'pools-and-no-parallel': [/^Counter: \d+ bias points done$/],
  progress: [/^\[Parallel\(nJobs=2\)\]: (Using backend|Done \d+ of 200 \| elapsed: )/, /^█*░* ?\d+\/200 \(\d+%\) \| /],
};
/** Generous: on the 2-core machine each example takes a few seconds, the demo about six. */
// A guard against a hang, not a bound on time: generous, as a loaded machine may run an example slowly.
const TIMEOUT_MS = 300_000;
/** Two examples at a time: each already uses two workers, and the machine has two cores. */
const CONCURRENCY = 2;
/** Started first, so the short ones fill the other slot meanwhile. */
const LONGEST_FIRST = ['serialization-and-wrappers', 'sharing-a-model'];

const compiledDir = fileURLToPath(new URL('../examples/', import.meta.url));
const sourceDir = fileURLToPath(new URL('../../examples/', import.meta.url));
// Compiled examples whose source still exists: tsc does not delete the output of a removed file.
const names = readdirSync(compiledDir)
  .filter((file) => file.endsWith('.js') && existsSync(join(sourceDir, file.replace(/\.js$/, '.ts'))))
  .map((file) => file.replace(/\.js$/, ''))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
function rank(name: string): number {
  const at = LONGEST_FIRST.indexOf(name);
  return at === -1 ? LONGEST_FIRST.length : at;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  ms: number;
  leftovers: string[];
}

function runExample(name: string): Promise<Outcome> {
  // Its own temporary folder, for the system's and joblet's temporary files: it must be empty afterwards.
  const temp = mkdtempSync(join(tmpdir(), `joblet-example-${name}-`));
  // As a user's terminal pipe would see it: no colours forced by the test runner.
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: temp, JOBLET_TEMP_DIR: temp };
  delete env.FORCE_COLOR;
  const started = performance.now();
  return new Promise((resolve) => {
    // detached: the example leads its own process group, so a timeout kills its worker processes too.
    const child = spawn(process.execPath, [join(compiledDir, `${name}.js`)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const guard = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // no process groups here (Windows): the example alone
      }
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      const leftovers = readdirSync(temp, { recursive: true }).map(String);
      rmSync(temp, { recursive: true, force: true });
      resolve({ code, signal, timedOut, stdout, stderr, ms: performance.now() - started, leftovers });
    });
  });
}

let active = 0;
const waiting: (() => void)[] = [];
async function withSlot<T>(job: () => Promise<T>): Promise<T> {
  while (active >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  active++;
  try {
    return await job();
  } finally {
    active--;
    waiting.shift()?.();
  }
}

const test = suite('examples');
const runs = new Map<string, Promise<Outcome>>();
let suiteStart = 0;

test.before(() => {
  suiteStart = performance.now();
  for (const name of names) runs.set(name, withSlot(() => runExample(name)));
});

// How long each example took, on request (JOBLET_TEST_TIMES=1): the suite's own output stays the report alone.
test.after(async () => {
  if (!process.env.JOBLET_TEST_TIMES) return;
  const outcomes = await Promise.all(names.map(async (name) => [name, await runs.get(name)!] as const));
  const each = outcomes.map(([name, outcome]) => `${name} ${(outcome.ms / 1000).toFixed(1)} s`).join(', ');
  console.log(`\n  examples: ${names.length} in ${((performance.now() - suiteStart) / 1000).toFixed(1)} s, ${CONCURRENCY} at a time (${each})`);
});

test('examples are found, and every entry in EXPECTED names one', () => {
  assert.ok(names.length >= 7, `found only ${names.length} compiled examples in ${compiledDir}: ${names.join(', ')}`);
  for (const name of Object.keys(EXPECTED)) assert.ok(names.includes(name), `EXPECTED names '${name}', but there is no examples/${name}.ts`);
});

for (const name of names) {
  test(`${name}: runs to the end, exits 0, writes no stderr, leaves no temporary file, prints what it shows`, async () => {
    const outcome = await runs.get(name)!;
    const report = `\n--- stdout ---\n${outcome.stdout}\n--- stderr ---\n${outcome.stderr}`;
    assert.not.ok(outcome.timedOut, `examples/${name} did not finish within ${TIMEOUT_MS / 1000} s and was killed${report}`);
    assert.is(outcome.code, 0, `examples/${name} exited with code ${outcome.code} (signal ${outcome.signal})${report}`);
    const intended = STDERR[name] ?? [];
    const lines = outcome.stderr.split('\n');
    const noise = lines.filter((line) => line.trim() && ![...HARMLESS_STDERR, ...intended].some((allowed) => allowed.test(line)));
    for (const pattern of intended) assert.ok(lines.some((line) => pattern.test(line)), `examples/${name} should write ${pattern} to stderr${report}`);
    assert.equal(noise, [], `examples/${name} wrote to stderr${report}`);
    assert.equal(outcome.leftovers, [], `examples/${name} left temporary files behind`);
    const expected = EXPECTED[name];
    assert.ok(expected, `examples/${name}.ts has no entry in EXPECTED (test/examples.test.ts): add the lines it must print`);
    for (const line of expected!) assert.match(outcome.stdout, line, `examples/${name} did not print ${line}${report}`);
  });
}

test.run();
