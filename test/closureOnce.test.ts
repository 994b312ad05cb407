/**
 * Encode once, compile once: a closure submitted with many tasks is encoded
 * once per run and compiled once per worker, and what it captures travels to
 * each worker once while unchanged. Every message to a real worker thread is
 * recorded on its way.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, delayed, getSerializer, type Serializer } from 'joblet';
import { registerSeenThreads } from './helpers.js';
import type { ToWorker } from '../src/runtime/protocol.js';

const sent: ToWorker[] = [];
registerSeenThreads('recorded-closures', (message) => sent.push(message));

/** How many times a def with this id crossed to a worker, and its size. */
const deliveries = (id: string) =>
  sent.flatMap((m) => (m.type === 'batch' ? m.batch.defs : [])).filter((d) => d.id === id).map((d) => (d.kind === 'value' ? d.data.length : 0));
const taskFunctionIds = () => new Set(sent.flatMap((m) => (m.type === 'batch' ? [m.batch.fns].flat() : [])));

// About 1 MB of captured data.
const weights = Float64Array.from({ length: 131_072 }, (_, i) => i % 10);
let scale = 2;
const score = (i: number) => weights[i % weights.length]! * scale;

const test = suite('a closure travels once');

test('200 tasks: encoded once, its captured megabyte sent once per worker, unchanged runs send nothing', async () => {
  // A run encodes through the codec's session entry point: count that one.
  const closure = getSerializer('closure') as Required<Serializer>;
  const original = closure.serializeInSession;
  let encodings = 0;
  closure.serializeInSession = (value, session) => (encodings++, original(value, session));
  const parallel = new Parallel({ backend: 'recorded-closures', nJobs: 2 });
  try {
    const indices = Array.from({ length: 200 }, (_, i) => i);
    sent.length = 0;
    const first = await parallel.run(indices.map((i) => delayed(score)(i)));
    assert.equal(first, indices.map((i) => (i % 10) * 2));
    assert.is(encodings, 1, 'the closure was encoded once for the whole run');
    const [id] = [...taskFunctionIds()];
    assert.is(taskFunctionIds().size, 1);
    const sizes = deliveries(id!);
    assert.ok(sizes.length >= 1 && sizes.length <= 2, `sent ${sizes.length} times to 2 workers`);
    assert.ok(sizes[0]! > 1_000_000, `the captured array travelled (${sizes[0]} bytes)`);

    sent.length = 0;
    await parallel.run(indices.map((i) => delayed(score)(i)));
    assert.equal([...taskFunctionIds()], [id], 'same function, same captures: same id');
    assert.equal(deliveries(id!), [], 'nothing was sent again');

    scale = 3; // a new snapshot: a new id, sent again, and used
    sent.length = 0;
    const third = await parallel.run(indices.slice(0, 4).map((i) => delayed(score)(i)));
    assert.equal(third, [0, 3, 6, 9]);
    assert.is.not([...taskFunctionIds()][0], id);
    // The superseded snapshot is released: a long-lived pool keeps one per function, not one per run.
    const forgotten = sent.flatMap((m) => (m.type === 'forget' ? m.ids : []));
    assert.ok(forgotten.includes(id!), 'the workers were told to drop the old snapshot');
  } finally {
    closure.serializeInSession = original;
    await parallel.close();
  }
});

test('a captured class is compiled once per worker, however many tasks use it', async () => {
  class Compiled {
    static {
      const counts = globalThis as { jobletCompilations?: number };
      counts.jobletCompilations = (counts.jobletCompilations ?? 0) + 1;
    }
  }
  const compilations = () => [Compiled.name, (globalThis as { jobletCompilations?: number }).jobletCompilations];
  const before = (globalThis as { jobletCompilations?: number }).jobletCompilations;
  const parallel = new Parallel({ backend: 'threads', nJobs: 2 });
  const out = await parallel.run(Array.from({ length: 50 }, () => delayed(compilations)()));
  assert.equal(new Set(out.map((o) => JSON.stringify(o))), new Set([JSON.stringify(['Compiled', 1])]));
  assert.is((globalThis as { jobletCompilations?: number }).jobletCompilations, before, 'the class body did not run again here');
  await parallel.close();
});

test.run();
