/**
 * Review of 04e6d3f..aad8c38 (a task of one argument keeps it alone, its args array made when read):
 * a frozen task still reads its args, the same array each time, and runs with what that array holds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed } from 'joblet';

const test = suite('review 17b: tasks of one argument');
const argsOf = (...a: unknown[]) => a;

test('a frozen task of one argument reads its args (as a frozen task did before: an own array)', () => {
  const task = Object.freeze(delayed(argsOf)(1));
  assert.equal(task.args, [1]);
  assert.is(task.args, task.args);
});

test('a frozen task whose args were read and changed runs with the changed args', async () => {
  const tasks = Array.from({ length: 20 }, (_, i) => Object.freeze(delayed(argsOf)(i)));
  (tasks[3]!.args as unknown[]).push('x');
  (tasks[5]!.args as unknown[]).length = 0;
  const parallel = new Parallel({ backend: 'inline' });
  try {
    const results = await parallel.run(tasks);
    assert.equal(results[3], [3, 'x']);
    assert.equal(results[5], []);
    assert.equal(results[4], [4]);
  } finally {
    await parallel.close();
  }
});

for (const backend of ['inline', 'threads'] as const) {
  test(`${backend}: a task is sent with what its args reads: set, defined on it, or answered by a proxy`, async () => {
    const tasks = Array.from({ length: 20 }, (_, i) => delayed(argsOf)(i));
    (tasks[2] as unknown as { args: unknown[] }).args = ['set'];
    Object.defineProperty(tasks[4], 'args', { value: ['defined'] });
    tasks[6] = new Proxy(tasks[6]!, { get: (target, key, receiver) => (key === 'args' ? ['proxied'] : Reflect.get(target, key, receiver)) });
    const parallel = new Parallel({ backend, nJobs: 2 });
    try {
      const results = await parallel.run(tasks);
      assert.equal([results[2], results[4], results[6], results[7]], [['set'], ['defined'], ['proxied'], [7]]);
      // The same from the first task on (the run's first item goes alone) and in a run of its own.
      assert.equal(await parallel.run([tasks[6]!, tasks[4]!, tasks[2]!]), [['proxied'], ['defined'], ['set']]);
    } finally {
      await parallel.close();
    }
  });
}

test.run();
