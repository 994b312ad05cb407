/**
 * Closures: a task function that uses what it closes over, run on real workers.
 *
 * Other Node pools send a function as `fn.toString()`, so the worker meets
 * the first name the function took from its module with a ReferenceError.
 * joblet's default serializer, 'auto', sends the function together with a
 * snapshot of what it captures: here a tax rate, a price list (a Map), a
 * rounding helper and a discount object (an instance of a class, methods
 * included). The same function runs on worker threads and on child
 * processes; then 'structured', a data-only serializer, refuses it and says
 * why and what to do.
 *
 * Run: npm run build && node dist/examples/closures.js
 */
import { threadId } from 'node:worker_threads';
import { Parallel, SerializationError, delayed, wrapNonSerializable } from 'joblet';

// `let`, because it changes below: each run takes a snapshot of it.
let taxRate = 0.2;
const prices = new Map<string, number>([
  ['apple', 0.5],
  ['bread', 2.25],
  ['cheese', 6.8],
  ['coffee', 9.4],
]);
const roundCents = (x: number) => Math.round(x * 100) / 100;
class Discount {
  constructor(
    readonly percent: number,
    readonly minimum: number,
  ) {}
  apply(total: number): number {
    return total >= this.minimum ? total * (1 - this.percent / 100) : total;
  }
}
const loyalty = new Discount(10, 20);

// Apart from its argument, everything this uses comes from the module: taxRate, prices,
// roundCents, loyalty (and through it, the class Discount). `threadId` is an import: it
// travels by reference, so the worker reads its own.
const priceBasket = (basket: string[]) => {
  const net = basket.reduce((sum, item) => sum + (prices.get(item) ?? Number.NaN), 0);
  return { total: roundCents(loyalty.apply(net) * (1 + taxRate)), ranIn: `pid ${process.pid}, thread ${threadId}` };
};

const baskets = [['apple', 'bread'], ['cheese', 'coffee', 'coffee'], ['apple', 'apple', 'cheese'], ['coffee', 'bread', 'cheese']];
const expected = baskets.map((basket) => priceBasket(basket).total);
console.log(`main thread: pid ${process.pid}, thread ${threadId}\n`);

const threads = new Parallel({ nJobs: 2 });
const processes = new Parallel({ nJobs: 2, backend: 'processes' });
const strict = new Parallel({ nJobs: 2, serializer: 'structured' });
try {
  for (const parallel of [threads, processes]) {
    const out = await parallel.run(baskets.map((basket) => delayed(priceBasket)(basket)));
    console.log(`${parallel.backendName}, serializer '${parallel.serializerName}':`);
    for (const [i, { total, ranIn }] of out.entries()) console.log(`  basket ${i}: ${total.toFixed(2).padStart(6)}  (${ranIn})`);
    if (out.some(({ total }, i) => total !== expected[i])) throw new Error('a worker priced a basket differently from the main thread');
  }
  console.log('Same totals as in the main thread: the captured variables travelled with the function.\n');

  // A capture is a snapshot taken when the run starts: the next run sends the new rate.
  taxRate = 0.25;
  const [after] = await threads.run([delayed(priceBasket)(baskets[0]!)]);
  console.log(`taxRate changed to ${taxRate}: basket 0 now costs ${after!.total.toFixed(2)} (the next run took a new snapshot)\n`);

  // 'structured' (V8's structured clone) carries data only. It refuses the function before
  // any worker sees it, rather than letting it fail there on `prices`.
  try {
    await strict.run(baskets.map((basket) => delayed(priceBasket)(basket)));
    throw new Error("'structured' was expected to refuse a closure");
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    console.log(`serializer 'structured' refuses it: ${error.name}`);
    console.log(`  phase:      ${error.phase}`);
    console.log(`  task:       ${error.taskIndex}`);
    console.log(`  path:       ${error.path}`);
    console.log(`  problem:    ${error.problem}`);
    console.log(`  remedy:     ${error.remedy}\n`);
  }

  // One of its remedies: wrap just this function. It takes the closure codec; the
  // arguments and results stay on structured clone.
  const wrapped = await strict.run(baskets.map((basket) => delayed(wrapNonSerializable(priceBasket))(basket)));
  console.log(`'structured' with wrapNonSerializable(priceBasket): ${wrapped.map(({ total }) => total.toFixed(2)).join(', ')}`);
} finally {
  await Promise.all([threads.close(), processes.close(), strict.close()]);
}
