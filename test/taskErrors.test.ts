/**
 * What a task that throws gives back, on every backend: a TaskError that names the task and keeps
 * what was thrown, the run rejected at the first error, and a pool that serves the next run.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, JobletError, SerializationError, TaskError } from 'joblet';
import { BACKENDS, rejects, withParallel } from './helpers.js';
import { slowEcho, square } from './tasks.js';

for (const backend of BACKENDS) {
  const test = suite(`errors thrown by tasks, on ${backend}`);

  test('in batches of thousands of tasks, results keep their order and an error is blamed on its own task', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      const n = 3000;
      const plusOne = (x: number) => x + 1;
      assert.equal(await parallel.run(Array.from({ length: n }, (_, i) => delayed(plusOne)(i))), Array.from({ length: n }, (_, i) => i + 1));
      const failsAt = (x: number) => {
        if (x === 1234) throw new RangeError(`bad ${x}`);
        return x;
      };
      await rejects(parallel.run(Array.from({ length: n }, (_, i) => delayed(failsAt)(i))), (error) => {
        assert.instance(error, TaskError);
        assert.is(error.taskIndex, 1234);
        assert.is(error.originalMessage, 'bad 1234');
      });
    });
    await withParallel({ backend, nJobs: 2, batchSize: 7 }, async (fixed) => {
      assert.equal(await fixed.run([9, 1, 5, 1, 3, 1, 8, 2].map((ms, i) => delayed(slowEcho)(i, ms))), [0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });

  test('a thrown Error subclass keeps its name, message, stack, custom properties and task index', async () => {
    const validate = (x: number) => {
      class ValidationError extends Error {
        code = 'E_RANGE';
        constructor(message: string) {
          super(message);
          this.name = 'ValidationError';
        }
      }
      if (x > 1) throw new ValidationError(`x too large: ${x}`);
      return x;
    };
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([0, 1, 2].map((x) => delayed(validate)(x))), (error) => {
        assert.instance(error, TaskError);
        assert.instance(error, JobletError);
        assert.is(error.taskIndex, 2);
        assert.is(error.originalName, 'ValidationError');
        assert.is(error.originalMessage, 'x too large: 2');
        assert.is(error.properties.code, 'E_RANGE');
        assert.is(error.code, 'E_RANGE');
        assert.ok(error.isError);
        assert.match(error.workerStack, 'ValidationError: x too large: 2');
        assert.match(error.message, 'Task 2 threw ValidationError');
      });
    });
  });

  test('custom properties the serializer cannot carry are dropped, and the error says so', async () => {
    const throwsWithCallback = () => {
      throw Object.assign(new Error('with a callback'), { retry: () => 1, code: 'E_CB' });
    };
    await withParallel({ backend, serializer: 'structured', nJobs: 1 }, async (structured) => {
      await rejects(structured.run([delayed(throwsWithCallback)()]), (error) => {
        assert.instance(error, TaskError);
        assert.is(error.originalMessage, 'with a callback');
        assert.equal(error.properties, {});
        assert.match(error.propertiesLost, "serializer 'structured' could not carry them");
      });
    });
    // The default serializer carries them, functions included.
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([delayed(throwsWithCallback)()]), (error) => {
        assert.is(error.code, 'E_CB');
        assert.is(error.properties.retry(), 1);
        assert.is(error.propertiesLost, undefined);
      });
    });
  });

  test('getters that throw, in a result or in a thrown error, still give a clear error for that task', async () => {
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      const resultWithBadGetter = () => Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw new Error('getter boom'); } });
      await rejects(parallel.run([delayed(square)(1), delayed(resultWithBadGetter)()]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.phase, 'serialize-result');
        assert.is(error.taskIndex, 1);
        assert.match(error.message, 'getter boom');
      });
      const throwsWithBadGetter = () => {
        throw Object.defineProperty(new Error('task failed'), 'code', { enumerable: true, get: () => { throw new Error('code getter'); } });
      };
      await rejects(parallel.run([delayed(throwsWithBadGetter)()]), (error) => {
        assert.instance(error, TaskError);
        assert.is(error.originalMessage, 'task failed');
        assert.match(error.propertiesLost, 'reading `code` threw');
      });
      assert.equal(await parallel.run([delayed(square)(7)]), [49], 'the pool still serves');
    });
  });

  test("a thrown error's own taskIndex does not overwrite the task's", async () => {
    const rethrows = (i: number) => {
      if (i === 2) throw Object.assign(new Error('inner failure'), { taskIndex: 0, code: 'E_INNER' });
      return i;
    };
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([0, 1, 2].map((i) => delayed(rethrows)(i))), (error) => {
        assert.is(error.taskIndex, 2);
        assert.is(error.properties.taskIndex, 0);
        assert.is(error.code, 'E_INNER');
      });
    });
  });

  test('a thrown string is reported as a TaskError that carries the value', async () => {
    const throwsText = () => {
      throw 'plain text';
    };
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([delayed(throwsText)()]), (error) => {
        assert.instance(error, TaskError);
        assert.not.ok(error.isError);
        assert.is(error.thrownValue, 'plain text');
        assert.match(error.message, 'plain text');
      });
    });
  });

  test('the first error rejects the run, and the pool serves the next run', async () => {
    const failsOnTwo = (x: number) => {
      if (x === 2) throw new RangeError('two');
      return x;
    };
    await withParallel({ backend, nJobs: 2 }, async (parallel) => {
      await rejects(parallel.run([0, 1, 2, 3, 4, 5].map((x) => delayed(failsOnTwo)(x))), (error) => {
        assert.instance(error, TaskError);
        assert.is(error.taskIndex, 2);
      });
      assert.equal(await parallel.run([5, 6].map((x) => delayed(square)(x))), [25, 36]);
    });
  });

  test.run();
}
