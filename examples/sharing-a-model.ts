/**
 * Sharing a model: one large model used by many tasks, persisted once (lenskit's `persist`).
 *
 * A recommender scores every item for a user: many small tasks, one big
 * model (20,000 item vectors of 32 doubles, 5 MB, plus titles). Passed as
 * an argument, the model is copied with the tasks again and again.
 * `persist(model)` returns a small handle instead: each worker gets the model
 * once and caches it, and on threads its Float64Array sits in shared memory,
 * so no worker copies it at all. Both ways are timed in the same run.
 *
 * Run: npm run build && node dist/examples/sharing-a-model.js
 */
import { Parallel, delayed, persist, type PersistedModel } from 'joblet';

interface ItemModel {
  dim: number;
  vectors: Float64Array; // item i's vector is vectors[i * dim .. (i + 1) * dim)
  titles: string[];
}

const ITEMS = 20_000;
const DIM = 32;
const USERS = 60;
const ROUNDS = 4;

// A small deterministic generator, so that every run scores the same model.
function random(seed: number): () => number {
  return () => ((seed = (seed * 1_664_525 + 1_013_904_223) >>> 0) / 2 ** 32) * 2 - 1;
}
const next = random(42);
const model: ItemModel = {
  dim: DIM,
  vectors: Float64Array.from({ length: ITEMS * DIM }, next),
  titles: Array.from({ length: ITEMS }, (_, i) => `item-${i}`),
};
const users = Array.from({ length: USERS }, () => Float64Array.from({ length: DIM }, next));

// The three best items for one user. Both task functions below capture this helper.
function topItems({ dim, vectors, titles }: ItemModel, user: Float64Array): string[] {
  const best: { score: number; title: string }[] = [];
  for (let item = 0; item < titles.length; item++) {
    let score = 0;
    for (let d = 0, at = item * dim; d < dim; d++, at++) score += vectors[at]! * user[d]!;
    if (best.length < 3 || score > best[2]!.score) best.splice(best.findIndex((b) => score > b.score) >>> 0, 0, { score, title: titles[item]! });
    best.length = Math.min(best.length, 3);
  }
  return best.map((b) => b.title);
}
const recommendCopied = (m: ItemModel, user: Float64Array) => topItems(m, user);
// get() rebuilds the model once per worker and returns the cached one to every later task.
const recommendShared = (handle: PersistedModel<ItemModel>, user: Float64Array) => topItems(handle.get(), user);
const inSharedMemory = (handle: PersistedModel<ItemModel>) => handle.get().vectors.buffer instanceof SharedArrayBuffer;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function perTaskMs(parallel: Parallel, run: () => Promise<string[][]>): Promise<{ first: number; later: number; out: string[][] }> {
  await parallel.run([delayed(Math.abs)(0), delayed(Math.abs)(0)]); // start the workers: not what we measure
  const times: number[] = [];
  let out: string[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    out = await run();
    times.push((performance.now() - start) / USERS);
  }
  return { first: times[0]!, later: median(times.slice(1)), out };
}

const handle = persist(model);
// The baseline copies: automatic sharing (maxNbytes) looks only at top-level arguments, so it would
// not share the arrays inside this object anyway; null says so outright. Tasks travel in batches, and
// a batch holds one copy of an object its tasks share: that is what passing the model costs.
const copying = new Parallel({ nJobs: 2, maxNbytes: null });
const sharing = new Parallel({ nJobs: 2 });
const processes = new Parallel({ nJobs: 2, backend: 'processes' });
try {
  const copied = await perTaskMs(copying, () => copying.run(users.map((u) => delayed(recommendCopied)(model, u))));
  const shared = await perTaskMs(sharing, () => sharing.run(users.map((u) => delayed(recommendShared)(handle, u))));
  if (JSON.stringify(copied.out) !== JSON.stringify(shared.out)) throw new Error('the shared model gave different recommendations');
  const [zeroCopy] = await sharing.run([delayed(inSharedMemory)(handle)]);

  console.log(`${USERS} users scored against ${ITEMS.toLocaleString('en-US')} items (${(model.vectors.byteLength / 2 ** 20).toFixed(1)} MiB of vectors), 2 worker threads:\n`);
  console.log(`                                   first run   later runs (median of ${ROUNDS - 1})`);
  console.log(`model passed as an argument   ${copied.first.toFixed(2).padStart(10)} ms ${copied.later.toFixed(2).padStart(10)} ms per task`);
  console.log(`persist(model), handle passed ${shared.first.toFixed(2).padStart(10)} ms ${shared.later.toFixed(2).padStart(10)} ms per task`);
  console.log(`\nIn this run, a task cost ${(copied.later / shared.later).toFixed(1)} times as much with the model copied as with it persisted (later runs).`);
  console.log(`The first run includes delivering the model to each worker once. In a worker thread, the vectors are on a SharedArrayBuffer: ${zeroCopy}`);
  console.log(`user 0 gets ${shared.out[0]!.join(', ')}`);

  // The same handle on child processes: they cannot map this process's memory, so the model is
  // written once to a temporary file and each process reads it once.
  const start = performance.now();
  const fromFile = await processes.run(users.map((u) => delayed(recommendShared)(handle, u)));
  console.log(`\nThe same handle on 2 child processes: ${((performance.now() - start) / USERS).toFixed(2)} ms per task, start-up included; same results: ${JSON.stringify(fromFile) === JSON.stringify(shared.out)}`);
} finally {
  await Promise.all([copying.close(), sharing.close(), processes.close()]);
  // Frees the shared memory and the file, and tells the workers to drop their copies.
  handle.close();
}
try {
  handle.get();
} catch (error) {
  console.log(`\nAfter close(), get() throws: ${(error as Error).message}`);
}
