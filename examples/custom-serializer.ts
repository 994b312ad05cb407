/**
 * Your own serializer: MessagePack (msgpackr) registered with joblet and used by real workers.
 *
 * A serializer is one object with both directions; `registerSerializer(...,
 * { module: import.meta.url })` in a module of its own (here
 * examples/serializers/msgpack.ts) lets each worker import that module and
 * register the same serializer, since workers have registries of their own.
 * This example runs a job under 'msgpack', then sends a set of values through
 * a worker and back under 'structured' and 'msgpack', to show what each keeps
 * and what it changes, and compares the bytes each writes for the job's data.
 *
 * Run: npm run build && node dist/examples/custom-serializer.js
 */
import { inspect } from 'node:util';
import { Parallel, SerializationError, delayed, getSerializer, listSerializers } from 'joblet';
import './serializers/msgpack.js';

interface Order {
  id: number;
  customer: string;
  placed: Date;
  lines: { sku: string; quantity: number; price: number }[];
}
const orders: Order[] = Array.from({ length: 2_000 }, (_, i) => ({
  id: i,
  customer: `customer-${i % 37}`,
  placed: new Date(Date.UTC(2024, i % 12, 1 + (i % 28), i % 24)),
  lines: Array.from({ length: 1 + (i % 4) }, (_, j) => ({ sku: `sku-${(i * 7 + j) % 500}`, quantity: 1 + j, price: 0.99 + ((i + j) % 50) })),
}));

// Task functions travel as source under a serializer without closures: this one uses only its argument.
const summarise = (chunk: Order[]) => {
  let revenue = 0;
  let latest = 0;
  for (const order of chunk) {
    for (const line of order.lines) revenue += line.quantity * line.price;
    latest = Math.max(latest, order.placed.getTime()); // a Date must arrive as a Date
  }
  return { orders: chunk.length, revenue: Math.round(revenue * 100) / 100, latest: new Date(latest) };
};
const identity = (value: unknown) => value;

const chunks = Array.from({ length: 20 }, (_, c) => orders.slice(c * 100, (c + 1) * 100));
const show = (value: unknown) =>
  value instanceof Error
    ? `${value.constructor.name} '${value.message}', code: ${String((value as { code?: unknown }).code)}` // without the stack
    : inspect(value, { depth: 3, breakLength: Infinity, compact: true });

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
const cyclic: { name: string; self?: unknown } = { name: 'loop' };
cyclic.self = cyclic;
const samples: [string, unknown][] = [
  ['Date', new Date(Date.UTC(2024, 0, 2))],
  ['Map with number keys', new Map([[1, 'one'], [2, 'two']])],
  ['Set', new Set(['a', 'b'])],
  ['-0', -0],
  ['BigInt 2n ** 70n', 2n ** 70n],
  ['RangeError with code', Object.assign(new RangeError('too far'), { code: 'E_FAR' })],
  ['function in an object', { onItem: (x: number) => x * 2 }],
  ['Float64Array', new Float64Array([1.5, -2])],
  ['class instance', new Point(3, 4)],
  ['cyclic object', cyclic],
];

console.log(`registered serializers: ${listSerializers().join(', ')}\n`);
const pools = ['structured', 'msgpack'].map((serializer) => new Parallel({ nJobs: 2, serializer }));
try {
  for (const parallel of pools) {
    const run = () => parallel.run(chunks.map((chunk) => delayed(summarise)(chunk)));
    await run(); // starts the workers (and, for 'msgpack', has them import the serializer's module)
    const start = performance.now();
    const totals = await run();
    const revenue = totals.reduce((sum, t) => sum + t.revenue, 0);
    const latest = new Date(Math.max(...totals.map((t) => t.latest.getTime())));
    console.log(
      `'${parallel.serializerName}': ${chunks.length} tasks, revenue ${revenue.toFixed(2)}, latest order ${latest.toISOString()} ` +
        `(warm run: ${(performance.now() - start).toFixed(1)} ms)`,
    );
  }

  console.log('\nA value sent to a worker and back (identity task):');
  const refusals: string[] = [];
  console.log(`${'value'.padEnd(22)} ${'structured'.padEnd(46)} msgpack`);
  for (const [label, value] of samples) {
    const outcomes: string[] = [];
    for (const parallel of pools) {
      try {
        const [back] = await parallel.run([delayed(identity)(value)]);
        outcomes.push(show(back));
      } catch (error) {
        if (!(error instanceof SerializationError)) throw error;
        outcomes.push(`refused at ${error.path}`);
        refusals.push(`${label}, '${error.serializer}': ${error.problem}`);
      }
    }
    console.log(`${label.padEnd(22)} ${outcomes[0]!.padEnd(46)} ${outcomes[1]}`);
  }
  console.log(`\n${refusals.join('\n')}`);
  console.log("A MessagePack map decodes as a plain object here (keys become strings): msgpackr's useRecords: false.");
  console.log("Neither keeps a class: the Point comes back a plain object ('auto' and 'closure' keep it), and the error's code is dropped.");

  // The same job's data in bytes. Which is smaller depends on the data: measure yours.
  console.log('\nBytes for all 2,000 orders:');
  for (const name of ['structured', 'msgpack', 'json']) {
    const bytes = getSerializer(name).serialize(orders);
    const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
    console.log(`  ${name.padEnd(11)} ${size.toLocaleString('en-US').padStart(9)} bytes`);
  }
} finally {
  await Promise.all(pools.map((parallel) => parallel.close()));
}
