/**
 * Counter (pynitride's): one count that every worker adds to, with Atomics on
 * shared memory (threads, inline) and messages to the main process (processes).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed, Counter } from 'joblet';
import { BACKENDS, withParallel } from './helpers.js';

for (const backend of BACKENDS) {
  const test = suite(`Counter on ${backend}`);
  let parallel: Parallel;
  test.before(() => {
    parallel = new Parallel({ backend, nJobs: 2 });
  });
  test.after(async () => {
    await parallel.close();
  });

  test('captured by a task function: every increment reaches the one count', async () => {
    const counter = new Counter();
    const work = (x: number) => {
      counter.increment();
      return x;
    };
    await parallel.run(Array.from({ length: 100 }, (_, i) => delayed(work)(i)));
    assert.is(counter.value, 100);
    // A second run with the same function and counter: the same count goes on.
    await parallel.run(Array.from({ length: 20 }, (_, i) => delayed(work)(i)));
    assert.is(counter.value, 120);
  });

  test('passed inside an argument, under every serializer', async () => {
    for (const serializer of ['auto', 'structured', 'json', 'devalue', 'javascript', 'closure']) {
      const counter = new Counter({ initial: 5 });
      const add = (box: { counter: Counter; by: number }) => box.counter.increment(box.by);
      await withParallel({ backend, nJobs: 2, serializer }, async (p) => {
        await p.run(Array.from({ length: 10 }, () => delayed(add)({ counter, by: 3 })));
      });
      assert.is(counter.value, 35, serializer);
    }
  });

  if (backend !== 'processes') {
    test('increments from two workers at once are atomic', async () => {
      const counter = new Counter();
      const many = (n: number) => {
        for (let i = 0; i < n; i++) counter.increment();
        return n;
      };
      await parallel.run([delayed(many)(20_000), delayed(many)(20_000), delayed(many)(20_000)]);
      assert.is(counter.value, 60_000);
    });
  }

  test('printEvery prints a line on stderr each time the count crosses a multiple', () => {
    const script = fileURLToPath(new URL('./fixtures/counterPrint.js', import.meta.url));
    const run = spawnSync(process.execPath, [script, backend], { encoding: 'utf8', timeout: 30_000 });
    assert.is(run.status, 0, run.stderr);
    assert.is(run.stdout.trim(), 'value 40');
    assert.equal(run.stderr.trim().split('\n').sort(), ['Count: 10', 'Count: 20', 'Count: 30', 'Count: 40']);
  });

  test.run();
}

const options = suite('Counter options');
options('bad settings are refused with the setting named', () => {
  assert.throws(() => new Counter({ printEvery: -1 }), /`printEvery`/);
  assert.throws(() => new Counter({ initial: 1.5 }), /`initial`/);
  assert.throws(() => new Counter().increment(0.5), /increment\(by\)/);
  assert.is(new Counter({ initial: 7 }).increment(3), 10);
});
options.run();
