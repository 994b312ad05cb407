/**
 * Pools, scoped configuration and switching parallelism off, after pynitride's `machine` module.
 *
 *   pynitride                      joblet
 *   process_pool()                 new Parallel({ backend: 'processes' })
 *   thread_pool()                  new Parallel({ backend: 'threads' })
 *   pool.map(f, xs) / starmap      parallel.map(f, xs) / parallel.run(pairs.map(([a, b]) => delayed(f)(a, b)))
 *   process_pool(new=True)         await parallel.close(): the next run() starts fresh workers
 *   no_parallel(), FakePool        noParallel(() => ...): every Parallel inside runs inline
 *   parallel_enabled()             parallelEnabled()
 *   (config.py defaults)           parallelConfig({ backend, nJobs }, () => ...), scoped across awaits
 *   glob_store / glob_read         persist(value) / handle.get()
 *   glob_remove                    handle.close()
 *   Counter(print_every, message)  new Counter({ printEvery, message }), counter.increment()
 *
 * The job: a device's current at several bias voltages, by the Landauer
 * formula, from a transmission table too large to send with every task.
 *
 * Run: npm run build && node dist/examples/pools-and-no-parallel.js
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { Counter, Parallel, SerializationError, delayed, noParallel, parallelConfig, parallelEnabled, persist, type PersistedModel } from 'joblet';

interface Device {
  energies: Float64Array; // eV
  transmission: Float64Array; // T(E), between 0 and 1
  kT: number; // eV
}

// glob_store: persist the table once; tasks get a handle of a few bytes and read it with get().
const POINTS = 100_000;
const energies = Float64Array.from({ length: POINTS }, (_, i) => -1 + (2 * i) / (POINTS - 1));
const transmission = energies.map((e) => 1 / (1 + Math.exp(-(e - 0.2) / 0.02))); // a smooth step above 0.2 eV
const device = persist<Device>({ energies, transmission, kT: 0.025 });

/** Landauer current (in units of 2e/h): the integral of T(E) [f(E - V/2) - f(E + V/2)] dE, by trapezoids. */
const current = (handle: PersistedModel<Device>, bias: number): number => {
  const { energies: e, transmission: t, kT } = handle.get();
  const window = (x: number) => 1 / (1 + Math.exp((x - bias / 2) / kT)) - 1 / (1 + Math.exp((x + bias / 2) / kT));
  let sum = 0;
  for (let i = 1; i < e.length; i++) sum += ((t[i]! * window(e[i]!) + t[i - 1]! * window(e[i - 1]!)) / 2) * (e[i]! - e[i - 1]!);
  return sum;
};
// mainPid is captured, so a worker compares its own pid with this process's.
const mainPid = process.pid;
const whereAmI = () =>
  process.pid !== mainPid ? `child process ${process.pid}` : isMainThread ? `the main thread (pid ${process.pid})` : `worker thread ${threadId}`;
const biases = [0, 0.2, 0.4, 0.6, 0.8, 1.0];

/** Library code: it names no backend, so whoever calls it decides, through parallelConfig or noParallel. */
async function ivCurve(): Promise<{ backend: string; currents: number[]; ranIn: string[] }> {
  const parallel = new Parallel();
  try {
    const currents = await parallel.run(biases.map((v) => delayed(current)(device, v)));
    const ranIn = await parallel.map(whereAmI, [1, 2]);
    return { backend: parallel.backendName, currents, ranIn: [...new Set(ranIn)] };
  } finally {
    await parallel.close();
  }
}
const show = ({ backend, currents, ranIn }: Awaited<ReturnType<typeof ivCurve>>) =>
  console.log(`${backend.padEnd(9)} I(V) = [${currents.map((i) => i.toFixed(4)).join(', ')}]  ran in: ${ranIn.join('; ')}`);

try {
  console.log(`main: ${whereAmI()}\n`);
  // process_pool() and thread_pool(): the same tasks, on child processes, then on worker threads.
  show(await parallelConfig({ backend: 'processes', nJobs: 2 }, ivCurve));
  show(await parallelConfig({ backend: 'threads', nJobs: 2 }, ivCurve));

  // no_parallel(): everything inside runs inline, in this thread, one task at a time, whatever
  // backend was asked for: what you want under a debugger or a profiler.
  await noParallel(async () => {
    console.log(`\ninside noParallel(): parallelEnabled() = ${parallelEnabled()}`);
    show(await parallelConfig({ backend: 'processes', nJobs: 2 }, ivCurve));
    // Inline still goes through the serializer, so what could not travel to a worker fails here too.
    const strict = new Parallel({ backend: 'processes', serializer: 'structured' });
    const scaled = (v: number) => current(device, v) * 2; // captures `current` and `device`
    await strict.run([delayed(scaled)(0.5)]).catch((error: unknown) => {
      if (!(error instanceof SerializationError)) throw error;
      console.log(`inline, serializer 'structured': refused at ${error.path}, as a worker would refuse it`);
    });
    await strict.close();
  });
  console.log(`after noParallel(): parallelEnabled() = ${parallelEnabled()}`);

  // process_pool(new=True): close() ends the workers; the next run starts fresh ones.
  const pool = new Parallel({ backend: 'processes', nJobs: 1 });
  const [before] = await pool.run([delayed(whereAmI)()]);
  await pool.close();
  const [after] = await pool.run([delayed(whereAmI)()]);
  console.log(`\nprocesses pool, before and after close(): ${before} -> ${after}`);
  await pool.close();

  // ---- pynitride's Counter: one count every worker adds to ---------------------------------
  // Threads add with Atomics on shared memory; child processes send their increments to this
  // process. printEvery writes the message to stderr each time the count passes a multiple.
  const points = new Counter({ printEvery: 200, message: 'Counter: {} bias points done' });
  const sweep = (v: number) => {
    points.increment();
    return current(device, v);
  };
  const fine = Array.from({ length: 400 }, (_, i) => i / 400);
  for (const backend of ['threads', 'processes'] as const) {
    const p = new Parallel({ backend, nJobs: 2 });
    await p.run(fine.map((v) => delayed(sweep)(v)));
    await p.close();
    console.log(`Counter after ${fine.length} tasks on ${backend}: ${points.value}`);
  }
  // ------------------------------------------------------------------------------------------
} finally {
  // glob_remove: frees the table's shared memory and temporary file, and tells workers to drop it.
  device.close();
}
