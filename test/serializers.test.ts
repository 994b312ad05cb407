/**
 * Every value of the fixture table, through every built-in serializer, to a
 * real worker on every backend and back: each cell of the table is asserted.
 */
import { inspect } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, SerializationError, delayed } from 'joblet';
import { FIXTURES, SERIALIZERS, describeInWorker, type CarriedCell, type Fixture, type RefusedCell } from './fixtures/values.js';
import { BACKENDS, rejects, type BackendName } from './helpers.js';

const identity = (x: unknown) => x;

for (const serializer of SERIALIZERS) {
  const test = suite(`serializer '${serializer}'`);
  const carried = FIXTURES.filter((f) => f.cells[serializer].outcome !== 'refused');
  const refused = FIXTURES.filter((f) => f.cells[serializer].outcome === 'refused');
  const cellOf = (f: Fixture) => f.cells[serializer] as CarriedCell;

  // One pool per backend for the whole suite, and one run for all the carried values.
  const pools = new Map<BackendName, Parallel>();
  const poolFor = (backend: BackendName): Parallel => {
    let pool = pools.get(backend);
    if (!pool) pools.set(backend, (pool = new Parallel({ backend, serializer, nJobs: 1 })));
    return pool;
  };
  const trips = new Map<BackendName, Promise<{ seen: unknown[]; back: unknown[] }>>();
  const tripOf = (backend: BackendName) => {
    let trip = trips.get(backend);
    if (!trip) {
      const tasks = carried.flatMap((f) => [delayed(describeInWorker)(f.make()), delayed(identity)(f.make())]);
      trip = poolFor(backend)
        .run(tasks)
        .then((out) => ({ seen: out.filter((_, i) => i % 2 === 0), back: out.filter((_, i) => i % 2 === 1) }));
      trips.set(backend, trip);
    }
    return trip;
  };

  test.after(async () => {
    await Promise.all([...pools.values()].map((pool) => pool.close()));
    pools.clear();
    trips.clear();
  });

  for (const backend of BACKENDS) {
    test(`on ${backend}, every value it carries comes back from the worker as the table says`, async () => {
      const { back } = await tripOf(backend);
      const wrong = carried.flatMap((f, i) =>
        cellOf(f).check(back[i]) ? [] : [`${f.name}: expected '${cellOf(f).outcome}', got ${inspect(back[i])}`],
      );
      assert.equal(wrong, []);
    });

    test(`on ${backend}, the task receives the value the table says`, async () => {
      const { seen, back } = await tripOf(backend);
      const wrong = carried.flatMap((f, i) => {
        const expected = cellOf(f).worker ?? describeInWorker(back[i]);
        return seen[i] === expected ? [] : [`${f.name}: the task saw '${String(seen[i])}', expected '${expected}'`];
      });
      assert.equal(wrong, []);
    });

    for (const f of refused) {
      const { path } = f.cells[serializer] as RefusedCell;
      test(`on ${backend}, a ${f.name} is refused with a SerializationError at ${path}`, async () => {
        await rejects(poolFor(backend).run([delayed(identity)(f.make())]), (error) => {
          assert.instance(error, SerializationError, `expected a SerializationError, got ${inspect(error)}`);
          const { path: where, serializer: by, phase, taskIndex, message } = error as SerializationError;
          assert.equal({ path: where, serializer: by, phase, taskIndex }, { path, serializer, phase: 'serialize-task', taskIndex: 0 });
          assert.ok(message.includes(`at ${path},`), message);
        });
      });
    }

    test(`on ${backend}, a task that returns nothing gives ${serializer === 'json' ? 'null (JSON has no undefined)' : 'undefined'}`, async () => {
      const returnsNothing = () => {};
      assert.equal(await poolFor(backend).run([delayed(returnsNothing)()]), [serializer === 'json' ? null : undefined]);
    });

    test(`on ${backend}, the pool still runs tasks after the refusals`, async () => {
      assert.equal(await poolFor(backend).run([delayed(identity)(['still', 'here'])]), [['still', 'here']]);
    });
  }

  test.run();
}
