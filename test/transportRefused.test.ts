/**
 * A cloning transport that refuses a batch's plain arguments: the backend rejects the batch
 * with TransportRefusedError and never calls back into the run; the run sends the same batch
 * again serialized, which either travels or names the task and the path.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, SerializationError, delayed, registerBackend } from 'joblet';
import { WorkerPool, type SpawnWorker } from '../src/backends/pool.js';
import { createThreadsBackend } from '../src/backends/threads.js';
import { createProcessesBackend } from '../src/backends/processes.js';
import { TransportRefusedError, type Backend, type BackendFactory } from '../src/backends/types.js';
import type { WireBatch } from '../src/runtime/protocol.js';
import './fixtures/optimisticSerializer.js';
import { rejects } from './helpers.js';

const pool = suite('the pool, when its transport refuses a batch');

/** A worker whose send always throws, as postMessage does on a symbol. */
const refusing: SpawnWorker = () => ({
  send: () => {
    throw new DOMException('Symbol(s) could not be cloned.', 'DataCloneError');
  },
  ref: () => {},
  unref: () => {},
  terminate: async () => {},
});

pool('plain args: it rejects with TransportRefusedError carrying the refusal; packed bytes: with the refusal itself', async () => {
  const workers = new WorkerPool('threads', 1, { sharedMemory: true, isolation: 'thread', clonesMessages: true }, refusing);
  try {
    const base = { serializer: 'structured', defs: [], indices: [0], fns: 'f:x' };
    await rejects(workers.submit({ ...base, id: 1, args: [[Symbol('s')]] }), (error) => {
      assert.instance(error, TransportRefusedError);
      assert.is((error as TransportRefusedError).refusal instanceof DOMException, true);
    });
    await rejects(workers.submit({ ...base, id: 2, packed: new Uint8Array([1]) }), (error) => {
      assert.not.instance(error, TransportRefusedError);
      assert.is(error.name, 'DataCloneError');
    });
  } finally {
    await workers.terminate();
  }
});

pool.run();

const run = suite('the run, when the transport refuses plain arguments');

/** The batches a backend was given, by id: whether each carried plain args or packed bytes. */
function recording(factory: BackendFactory, seen: { id: number; form: 'args' | 'packed' }[]): BackendFactory {
  return (options) => {
    const backend: Backend = factory(options);
    const submit = backend.submit.bind(backend);
    backend.submit = (batch: WireBatch, events) => {
      seen.push({ id: batch.id, form: batch.args !== undefined ? 'args' : 'packed' });
      return submit(batch, events);
    };
    return backend;
  };
}

for (const [name, factory] of [['threads', createThreadsBackend], ['processes', createProcessesBackend]] as const) {
  run(`on ${name}, the same batch goes again serialized and the serializer carries the value`, async () => {
    const seen: { id: number; form: 'args' | 'packed' }[] = [];
    registerBackend(`refused-${name}`, recording(factory, seen));
    const parallel = new Parallel({ backend: `refused-${name}`, nJobs: 1, serializer: 'optimistic' });
    try {
      assert.equal(await parallel.run([delayed((s: unknown) => `got ${String(s)}`)(Symbol('s'))]), ['got Symbol(s)']);
      assert.is(seen.length, 2);
      assert.is(seen[0]!.id, seen[1]!.id, 'the same batch');
      assert.equal(seen.map((s) => s.form), ['args', 'packed']);
      assert.equal(await parallel.run([delayed((x: number) => x + 1)(1)]), [2], 'the pool still serves');
    } finally {
      await parallel.close();
    }
  });

  run(`on ${name}, a value the serializer refuses too is named with its task and path`, async () => {
    const parallel = new Parallel({ backend: name, nJobs: 1, serializer: 'auto' });
    try {
      await rejects(parallel.run([delayed((x: number) => x)(1), delayed((s: unknown) => String(s))(Symbol('s'))]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.path, 'args[0]');
        assert.is(error.taskIndex, 1);
      });
      assert.equal(await parallel.run([delayed((x: number) => x * 3)(3)]), [9], 'the pool still serves');
    } finally {
      await parallel.close();
    }
  });
}

run.run();
