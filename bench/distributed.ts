/**
 * The bullmq backend against threads, in the same run: tiny tasks per second, and 20 ms tasks
 * with one and two `joblet worker` processes (one slot each) against threads with nJobs 1 and 2;
 * and the bytes Redis moves for a persisted 80 MB array used by 100 tasks (its INFO counters
 * before and after), against what 100 copies of it would move.
 * Starts its own redis-server on a unix socket; skips, saying so, without one.
 *
 * Run: npm run build && node dist/bench/distributed.js [tinyTasks=200000] [slowTasks=100]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed, persist, type Task } from 'joblet';

const redisServer = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
if (!redisServer) {
  console.log('SKIP: redis-server not found (apt-get install -y redis-server).');
  process.exit(0);
}
const TINY = Number(process.argv[2] ?? 200_000);
const SLOW = Number(process.argv[3] ?? 100);
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const folder = mkdtempSync(join(tmpdir(), 'joblet-bench-'));
const socket = join(folder, 'redis.sock');
const secret = randomBytes(32).toString('hex');
const children: ChildProcess[] = [];

function start(command: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOBLET_SECRET: secret } });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const look = (chunk: Buffer) => ((output += chunk), ready.test(output) && resolve(child));
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}):\n${output}`)));
  });
}
const gone = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)));
const worker = (queue: string) => start(process.execPath, [CLI, 'worker', '--redis', socket, '--queue', queue, '--concurrency', '1'], / ready: /);

const tiny = (x: number) => x + 1;
const busy20 = (x: number) => {
  const end = performance.now() + 20;
  while (performance.now() < end);
  return x;
};

/** Seconds for one run of `tasks` on a fresh Parallel (its start-up excluded: a warm-up run first). */
async function timed(options: object, make: (i: number) => Task<unknown>, count: number): Promise<number> {
  const parallel = new Parallel(options);
  try {
    await parallel.run(Array.from({ length: 4 }, (_, i) => make(i)));
    const begun = performance.now();
    const results = await parallel.run(Array.from({ length: count }, (_, i) => make(i)));
    if (results.length !== count) throw new Error('lost results');
    return (performance.now() - begun) / 1000;
  } finally {
    await parallel.close();
  }
}

try {
  await start(redisServer, ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no', '--dir', folder], /ready to accept connections/i);
  const one = [await worker('one')];
  const two = [await worker('two'), await worker('two')];
  const bullmq = (queue: string) => ({ backend: 'bullmq', nJobs: -1, backendOptions: { connection: socket, queue, secret } });
  const rows: [string, string][] = [];
  const tinyOn = async (name: string, options: object) => rows.push([`${TINY} tiny tasks, ${name}`, `${Math.round(TINY / (await timed(options, (i) => delayed(tiny)(i), TINY))).toLocaleString('en')} tasks/s`]);
  await tinyOn('threads nJobs 2', { nJobs: 2 });
  await tinyOn('bullmq 2 workers', bullmq('two'));
  const slow: Record<string, number> = {};
  for (const [name, options] of [['threads nJobs 1', { nJobs: 1 }], ['threads nJobs 2', { nJobs: 2 }], ['bullmq 1 worker', bullmq('one')], ['bullmq 2 workers', bullmq('two')]] as const) {
    slow[name] = await timed(options, (i) => delayed(busy20)(i), SLOW);
    rows.push([`${SLOW} tasks of 20 ms, ${name}`, `${slow[name]!.toFixed(2)} s`]);
  }
  rows.push(['speedup of 2 bullmq workers over 1', `${(slow['bullmq 1 worker']! / slow['bullmq 2 workers']!).toFixed(2)}x`]);
  rows.push(['speedup of threads nJobs 2 over 1', `${(slow['threads nJobs 1']! / slow['threads nJobs 2']!).toFixed(2)}x`]);
  // A persisted 80 MB array used by 100 tasks, on the 2 workers: the bytes into and out of Redis.
  const { Redis } = await import('ioredis');
  const client = new Redis({ path: socket });
  const net = async () => {
    const info = await client.info('stats');
    const read = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)![1]);
    return read('total_net_input_bytes') + read('total_net_output_bytes');
  };
  const array = Float64Array.from({ length: 10 * 1024 * 1024 }, (_, i) => i);
  const model = persist(array);
  const parallel = new Parallel({ ...bullmq('two'), batchSize: 5 });
  try {
    const before = await net();
    const sums = await parallel.run(Array.from({ length: 100 }, (_, i) => delayed((m: { get(): Float64Array }, k: number) => m.get()[k * 1000]! + m.get().length)(model, i)));
    if (sums.some((sum, i) => sum !== i * 1000 + array.length)) throw new Error('wrong values');
    const moved = (await net()) - before;
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    rows.push(['bytes Redis moved, persisted 80 MB array used by 100 tasks (20 jobs), 2 workers', mb(moved)]);
    rows.push(['the same array inside each of the 100 tasks (in and out once each)', mb(2 * 100 * array.byteLength)]);
  } finally {
    model.close();
    await parallel.close();
    client.disconnect();
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value}`);
  for (const child of [...one, ...two]) child.kill('SIGTERM');
} finally {
  const [redis, ...workers] = children;
  for (const child of workers) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(workers.map(gone));
  redis?.kill('SIGKILL');
  if (redis) await gone(redis);
  rmSync(folder, { recursive: true, force: true });
}
