/** The job queue the pool and the inline backend share. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortError } from 'joblet';
import { JobQueue } from '../src/backends/jobQueue.js';
import type { WireBatch } from '../src/runtime/protocol.js';
import { rejects } from './helpers.js';

const batch = (id: number): WireBatch => ({ id, serializer: 'structured', defs: [], indices: [id], fns: 'f:x', packed: new Uint8Array(0) });

const test = suite('job queue');

test('jobs leave in submission order; requeued ones go back to the front in their order', () => {
  const queue = new JobQueue('The test backend');
  for (const id of [1, 2, 3, 4]) void queue.add(batch(id), undefined);
  assert.is(queue.length, 4);
  assert.is(queue.peek()!.batch.id, 1);
  const taken = [queue.shift()!, queue.shift()!];
  queue.requeue(taken);
  assert.equal([1, 2, 3, 4].map(() => queue.shift()!.batch.id), [1, 2, 3, 4]);
  assert.is(queue.shift(), undefined);
});

test('cancel drops a waiting job with its reason and says whether it was waiting', async () => {
  const queue = new JobQueue('The test backend');
  const first = queue.add(batch(1), undefined);
  void queue.add(batch(2), undefined);
  const reason = new Error('not needed');
  assert.ok(queue.cancel(1, reason));
  await rejects(first, (error) => assert.is(error, reason));
  assert.not.ok(queue.cancel(1, reason), 'no longer waiting');
  assert.not.ok(queue.cancel(9, reason), 'never submitted');
  assert.is(queue.length, 1);
  assert.is(queue.peek()!.batch.id, 2);
});

test('close rejects what waits and refuses later jobs, naming the backend', async () => {
  const queue = new JobQueue('The test backend');
  const waiting = queue.add(batch(1), undefined);
  const closed = new AbortError('closed while pending');
  queue.close(closed);
  assert.ok(queue.closed);
  assert.is(queue.length, 0);
  await rejects(waiting, (error) => assert.is(error, closed));
  await rejects(queue.add(batch(2), undefined), (error) => {
    assert.instance(error, AbortError);
    assert.is(error.message, 'The test backend was closed; create a new Parallel.');
  });
  assert.is(queue.length, 0);
});

test.run();
