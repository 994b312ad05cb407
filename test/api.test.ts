/** The typed surface: result types flow from the task functions, and `await using` closes the pool. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed, WorkerCrashedError, type Task } from 'joblet';
import { rejects } from './helpers.js';

// Compile-time checks: these lines fail `npm run build` (and so `npm test`) if inference breaks.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T) => undefined;

const test = suite('the typed API');

test('run() infers the result type, including for async functions and each returnAs', async () => {
  const parallel = new Parallel({ backend: 'inline' });
  const asyncLength = async (s: string) => s.length;
  const task = delayed(asyncLength)('four');
  expectType<Equal<typeof task, Task<number>>>(true);
  const lengths = await parallel.run([task]);
  expectType<Equal<typeof lengths, number[]>>(true);
  assert.equal(lengths, [4]);

  const mapped = await parallel.map((x: number) => `${x}`, [1, 2]);
  expectType<Equal<typeof mapped, string[]>>(true);
  assert.equal(mapped, ['1', '2']);

  const streaming = new Parallel({ backend: 'inline', returnAs: 'generator_unordered' });
  const generator = streaming.run([delayed(asyncLength)('ab')]);
  expectType<Equal<typeof generator, AsyncGenerator<number, void, undefined>>>(true);
  const seen: number[] = [];
  for await (const value of generator) seen.push(value);
  assert.equal(seen, [2]);

  const mixed = await parallel.run([delayed(asyncLength)('x'), delayed((flag: boolean) => flag)(true)]);
  expectType<Equal<typeof mixed, (number | boolean)[]>>(true);
  assert.equal(mixed, [1, true]);

  // @ts-expect-error: the arguments are checked against the function's parameters.
  delayed(asyncLength)(5);
  await parallel.close();
  await streaming.close();
});

test('`await using` closes the pool at the end of the block', async () => {
  let pid = 0;
  {
    await using parallel = new Parallel({ backend: 'processes', nJobs: 1 });
    pid = (await parallel.run([delayed(() => process.pid)()]))[0]!;
    assert.is.not(pid, process.pid);
  }
  // The worker process is gone: signalling it fails.
  assert.throws(() => process.kill(pid!, 0), /ESRCH/);
});

test('a worker killed by a signal (as by an out-of-memory killer) is reported with the signal, and replaced', async () => {
  const parallel = new Parallel({ backend: 'processes', nJobs: 1 });
  const killSelf = () => process.kill(process.pid, 'SIGKILL');
  await rejects(parallel.run([delayed(Math.abs)(-1), delayed(killSelf)()]), (error) => {
    assert.instance(error, WorkerCrashedError);
    assert.is(error.signal, 'SIGKILL');
    assert.equal(error.taskIndices, [1]);
    assert.match(error.message, 'killed by SIGKILL');
  });
  assert.equal(await parallel.run([delayed(Math.abs)(-2)]), [2]);
  await parallel.close();
});

test.run();
