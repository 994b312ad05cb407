/**
 * Beyond one machine: the same tasks on `joblet worker` processes through Redis.
 *
 * Starts a local redis-server (on a unix socket in a temporary folder) and
 * two `joblet worker` processes, as you would start them on other machines,
 * then runs joblib's first example, `Parallel(n_jobs=2)(delayed(sqrt)(i ** 2)
 * for i in range(10))`, and a closure with its captures across them. Only the
 * `backend` option changes. Skips, saying so, when redis-server is absent.
 *
 * Run: npm run build && node dist/examples/distributed.js
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed } from 'joblet';

const redisServer = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
if (!redisServer) {
  console.log('SKIP: redis-server not found (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis).');
  process.exit(0);
}

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const folder = mkdtempSync(join(tmpdir(), 'joblet-distributed-'));
const socket = join(folder, 'redis.sock');
const secretFile = join(folder, 'joblet.secret');
writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
const children: ChildProcess[] = [];

/** Start a process and resolve once `ready` shows in its output. */
function start(command: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const look = (chunk: Buffer) => ((output += chunk), ready.test(output) && resolve(child));
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}) before it was ready:\n${output}`)));
  });
}

try {
  // 1. Redis, and two workers (on other machines you would run the same command there).
  await start(redisServer, ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no', '--dir', folder], /ready to accept connections/i);
  for (let i = 0; i < 2; i++) {
    await start(process.execPath, [CLI, 'worker', '--redis', socket, '--secret-file', secretFile, '--concurrency', '1'], / ready: /);
  }
  console.log('2 joblet workers serve the queue');

  // 2. joblib's example, with one option changed.
  const parallel = new Parallel({ backend: 'bullmq', nJobs: -1, backendOptions: { connection: socket, secretFile } });
  try {
    const roots = await parallel.run(Array.from({ length: 10 }, (_, i) => delayed(Math.sqrt)(i ** 2)));
    console.log(`sqrt(i ** 2) on ${parallel.backendName}: [${roots.join(', ')}]`);

    // 3. A closure travels with what it captures, as on threads.
    const rates = new Map([['EUR', 1.1], ['GBP', 1.3]]);
    const toDollars = ([currency, amount]: [string, number]) => Math.round(amount * (rates.get(currency) ?? 1) * 100) / 100;
    const dollars = await parallel.map(toDollars, [['EUR', 10], ['GBP', 20], ['USD', 5]] as [string, number][]);
    console.log(`a closure over a Map, remotely: [${dollars.join(', ')}]`);
  } finally {
    await parallel.close();
  }
} finally {
  // Workers first (SIGTERM: they finish what they hold), then Redis.
  const gone = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)));
  const [redis, ...workers] = children;
  for (const worker of workers) worker.kill('SIGTERM');
  await Promise.all(workers.map(gone));
  redis?.kill('SIGKILL');
  if (redis) await gone(redis);
  rmSync(folder, { recursive: true, force: true });
}
