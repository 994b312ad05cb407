/**
 * What users see while a job runs: onProgress, the progress bar (rendered to a stream, and drawn
 * in a real pseudo-terminal), joblib's verbose lines on stderr, and the profile from stats().
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { Parallel, delayed, TaskError, type Progress } from 'joblet';
import { BACKENDS, fixture, rejects, runNode, withParallel } from './helpers.js';

const double = (x: number) => x * 2;
const failOn = (x: number) => {
  if (x === 7) throw new Error('seven');
  return x;
};

/** A stream that keeps what is written, looking like a terminal or not. */
function collector(isTTY: boolean, columns = 70) {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }),
    { isTTY, columns },
  );
  return { stream, text: () => text };
}

const progressRun = fixture('progressRun');
const runFixture = (options: object) => runNode([progressRun, JSON.stringify(options)]);

for (const backend of BACKENDS) {
  const test = suite(`onProgress on ${backend}`);

  test('counts every task once, in order, with the total and a time left', async () => {
    const seen: Progress[] = [];
    await withParallel({ backend, nJobs: 2, onProgress: (p) => seen.push(p) }, async (parallel) => {
      assert.equal(await parallel.run(Array.from({ length: 50 }, (_, i) => delayed(double)(i))), Array.from({ length: 50 }, (_, i) => i * 2));
    });
    const last = seen[seen.length - 1]!;
    assert.is(last.done, 50);
    assert.is(last.total, 50);
    assert.is(last.failed, 0);
    assert.ok(seen.length >= 2, 'told at the start and after batches');
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i]!.done >= seen[i - 1]!.done, 'done never goes back');
      assert.ok(seen[i]!.elapsedMs >= seen[i - 1]!.elapsedMs, 'time never goes back');
    }
    assert.ok(seen.some((p) => p.done > 0 && p.done < 50 && p.etaMs !== undefined) || seen.length === 2, 'a time left once a rate is known');
  });

  test('an input of unknown length has no total until it runs out', async () => {
    const seen: Progress[] = [];
    function* tasks() {
      for (let i = 0; i < 30; i++) yield delayed(double)(i);
    }
    await withParallel({ backend, nJobs: 2, onProgress: (p) => seen.push({ ...p }) }, async (parallel) => {
      assert.is((await parallel.run(tasks())).length, 30);
    });
    assert.is(seen[0]!.total, undefined);
    assert.is(seen[0]!.etaMs, undefined);
    assert.is(seen[seen.length - 1]!.done, 30);
    assert.is(seen[seen.length - 1]!.total, 30);
  });

  test('a failed run ends with the failure counted', async () => {
    const seen: Progress[] = [];
    await withParallel({ backend, nJobs: 2, batchSize: 1, onProgress: (p) => seen.push(p) }, async (parallel) => {
      await rejects(parallel.run(Array.from({ length: 20 }, (_, i) => delayed(failOn)(i))), (error) => assert.instance(error, TaskError));
    });
    assert.ok(seen[seen.length - 1]!.failed >= 1);
  });

  test('a listener that throws is ignored: the run still gives its results, and one warning says so', async () => {
    // The warning is this test's to check, not the run's output to carry: caught here, not printed.
    const warnings: string[] = [];
    const emit = process.emitWarning;
    process.emitWarning = ((warning: string | Error) => void warnings.push(String(warning))) as typeof process.emitWarning;
    try {
      await withParallel({ backend, nJobs: 2, onProgress: () => { throw new Error('listener bug'); } }, async (parallel) => {
        assert.equal(await parallel.run([delayed(double)(1), delayed(double)(2)]), [2, 4]);
      });
    } finally {
      process.emitWarning = emit;
    }
    assert.equal(warnings, ['joblet: a progress listener threw and is ignored: listener bug']);
  });

  test('stats() gives per-phase times, bytes and per-worker figures that add up', async () => {
    await withParallel({ backend, nJobs: 2, enableProfiling: true }, async (parallel) => {
      await parallel.run(Array.from({ length: 200 }, (_, i) => delayed(double)(i)));
      await parallel.run(Array.from({ length: 100 }, (_, i) => delayed(double)(i)));
      const stats = parallel.stats();
      assert.is(stats.runs, 2);
      assert.is(stats.tasks, 300);
      assert.is(stats.phases.run.count, 300, 'one run time per task, measured in the worker');
      assert.is(stats.phases.queueWait.count, stats.batches);
      assert.is(stats.phases.serialize.count, stats.batches);
      assert.is(stats.workers.reduce((n, w) => n + w.tasks, 0), 300, 'every task ran on some worker');
      assert.ok(stats.workers.length >= 1 && stats.workers.length <= parallel.nJobs);
      assert.ok(stats.bytes.sent > 0 && stats.bytes.received > 0);
      for (const phase of Object.values(stats.phases)) assert.ok(phase.p50Ms <= phase.p99Ms && phase.p99Ms <= phase.maxMs + 1e-9);
      for (const w of stats.workers) assert.ok(w.utilization >= 0 && w.utilization <= 1.01, `utilization ${w.utilization}`);
      parallel.resetStats();
      assert.is(parallel.stats().tasks, 0);
    });
  });

  test.run();
}

const bar = suite('the progress bar');

bar('on a terminal it redraws one line in place and ends it', async () => {
  const out = collector(true);
  await withParallel({ nJobs: 2, progress: { stream: out.stream } }, async (parallel) => {
    await parallel.run(Array.from({ length: 60 }, (_, i) => delayed(double)(i)));
  });
  const text = out.text();
  assert.ok(text.startsWith('\r'), JSON.stringify(text.slice(0, 40)));
  assert.ok(text.endsWith('\n'));
  assert.match(text, /█+ 60\/60 \(100%\) \| [\d,.]+ tasks\/s \| elapsed \d+\.\ds/);
  assert.not.ok(text.slice(0, -1).includes('\n'), 'one line, redrawn');
});

bar('not a terminal: nothing, unless forced, and then plain lines', async () => {
  const quiet = collector(false);
  const forced = collector(false);
  for (const progress of [{ stream: quiet.stream }, { stream: forced.stream, force: true }]) {
    await withParallel({ backend: 'inline', progress }, async (parallel) => {
      await parallel.run(Array.from({ length: 10 }, (_, i) => delayed(double)(i)));
    });
  }
  assert.is(quiet.text(), '');
  assert.not.ok(forced.text().includes('\r'));
  assert.match(forced.text(), /10\/10 \(100%\)/);
});

bar('a generator of unknown length shows a count, not a bar', async () => {
  const out = collector(true);
  async function* tasks() {
    for (let i = 0; i < 20; i++) yield delayed(double)(i);
  }
  let n = 0;
  await withParallel({ nJobs: 2, returnAs: 'generator_unordered', progress: { stream: out.stream } }, async (parallel) => {
    for await (const _ of parallel.run(tasks())) n++;
  });
  assert.is(n, 20);
  // Once the input ran out the total is known, so the last line may carry it.
  assert.match(out.text(), /0 tasks \| /);
  assert.match(out.text(), /20\/20 \(100%\)|20 tasks/);
});

bar('progress: true draws in a real pseudo-terminal, and not when stderr is a pipe; results stay on stdout', async () => {
  const piped = await runFixture({ progress: true });
  assert.is(piped.code, 0, piped.stderr);
  assert.is(piped.stdout.trim(), 'results 40 sum 1560');
  assert.is(piped.stderr, '', 'no bar into a pipe');
  // script(1) gives the child a terminal; its output (stdout and stderr of the child, merged) comes back here.
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(progressRun)} '${JSON.stringify({ progress: true })}'`;
  const tty = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
  assert.is(tty.status, 0, tty.stderr);
  assert.match(tty.stdout, /\r█+ 40\/40 \(100%\)/);
  assert.match(tty.stdout, /results 40 sum 1560/);
});

bar.run();

const verbose = suite('verbose lines on stderr');

verbose("joblib's format, more lines at a higher level, a last line, nothing on stdout", async () => {
  const some = await runFixture({ verbose: 1 });
  const all = await runFixture({ verbose: 11, batchSize: 1 });
  for (const run of [some, all]) {
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stdout.trim(), 'results 40 sum 1560');
    assert.match(run.stderr, /^\[Parallel\(nJobs=2\)\]: Using backend threads with 2 workers, serializer auto/);
    assert.match(run.stderr, /\[Parallel\(nJobs=2\)\]: Done 40 of 40 \| elapsed: \d+\.\ds \| finished\n$/);
  }
  const lines = (text: string) => text.split('\n').filter((l) => / Done \d+ of 40 \| elapsed: \d+\.\ds \| remaining: \d+\.\ds$/.test(l)).length;
  assert.is(lines(all.stderr), 40, 'above 10: a line after every batch of one, then the last line');
  assert.ok(lines(some.stderr) < lines(all.stderr), `fewer lines at verbose 1 (${lines(some.stderr)})`);
});

verbose('bad values are refused with the option named', () => {
  assert.throws(() => new Parallel({ verbose: -1 }), /`verbose`/);
  assert.throws(() => new Parallel({ progress: 'yes' as unknown as boolean }), /`progress`/);
  assert.throws(() => new Parallel({ onProgress: 3 as unknown as () => void }), /`onProgress`/);
  assert.throws(() => new Parallel({ nJobs: 1 }).stats(), /enableProfiling: true/);
});

verbose.run();
