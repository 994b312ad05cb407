/**
 * Every value of the fixture table, through every built-in serializer, to a
 * real worker on every backend and back: each cell of the table is asserted.
 * Where a row has a `use`, the worker also uses the value (calls it, reads
 * its getter), so that a function whose capture was lost, or an instance
 * whose methods were, fails here and not in a user's task.
 */
import { inspect } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Parallel, SerializationError, delayed, wrapNonSerializable } from 'joblet';
import { FIXTURES, SERIALIZERS, describeInWorker, sameValue, type CarriedCell, type Fixture, type RefusedCell } from './fixtures/values.js';
import { BACKENDS, rejects, type BackendName } from './helpers.js';

const identity = (x: unknown) => x;

// A row's `use` travels through the closure codec whatever the column, so it may name the row's
// classes: the row tests how the value travels, not the task. Wrapped once, encoded once per run.
const useTasks = new Map(FIXTURES.flatMap((f) => (f.use ? [[f, wrapNonSerializable(f.use)] as const] : [])));

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
  const trips = new Map<BackendName, Promise<{ seen: unknown[]; back: unknown[]; used: unknown[] }>>();
  const tripOf = (backend: BackendName) => {
    let trip = trips.get(backend);
    if (!trip) {
      const tasks = carried.flatMap((f) => {
        const use = useTasks.get(f);
        return [delayed(describeInWorker)(f.make()), delayed(identity)(f.make()), ...(use ? [delayed(use)(f.make())] : [])];
      });
      trip = poolFor(backend)
        .run(tasks)
        .then((out) => {
          const seen: unknown[] = [];
          const back: unknown[] = [];
          const used: unknown[] = [];
          let at = 0;
          for (const f of carried) {
            seen.push(out[at++]);
            back.push(out[at++]);
            used.push(f.use ? out[at++] : undefined);
          }
          return { seen, back, used };
        });
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

    test(`on ${backend}, the task can use the value as the table says`, async () => {
      const { used } = await tripOf(backend);
      const wrong = carried.flatMap((f, i) => {
        if (!f.use) return [];
        const cell = cellOf(f);
        const expected = 'used' in cell ? cell.used : f.use(f.make());
        return sameValue(expected, used[i]) ? [] : [`${f.name}: the task's use gave ${inspect(used[i])}, expected ${inspect(expected)}`];
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
