#!/usr/bin/env node
/**
 * The `joblet` command:
 *
 *   joblet compare <module> [--export name] [--serializers a,b] [--repeat n] [--json]
 *
 * imports a module, takes one of its exports as the value, and prints
 * compareSerializers' report on it.
 *
 *   joblet worker --redis URL --secret-file F [--queue Q] [--concurrency N] [--pool threads|processes] [--lock-duration MS]
 *
 * serves the bullmq backend's queue until SIGTERM or Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { compareSerializers, formatComparisonTable } from './index.js';
import { cpuCount } from './parallel/njobs.js';

const HELP = `Usage: joblet compare <module> [options]

Shows how each serializer carries a value: whether it can (or why not, and
what to do), the size of the encoded form, median encode and decode times,
and what a round trip changes. The value is rebuilt in a worker thread, where
a task would see it, so a function that lost a captured variable shows.

<module>  A JavaScript module: a path relative to the current folder, or a
          file: URL. Its default export is the value (--export picks another).
          The export is the value itself: a function is compared as a
          function, not called to produce a value.

Options:
  --export <name>      compare this named export instead of the default one
  --serializers <a,b>  compare only these serializers, in this order
                       (default: every registered one; a module that calls
                       registerSerializer adds its own)
  --repeat <n>         encode and decode each value n times; times are the
                       median (default: 5)
  --json               print the rows as JSON instead of a table
  -h, --help           show this help

Exit code: 0 when the report was printed (even if some serializers refuse
the value), 1 for a missing module or export, an unknown serializer, or a
wrong option.`;

/** A mistake of the caller: printed without a stack, exit code 1. */
class UsageError extends Error {}

function moduleUrl(specifier: string): string {
  if (specifier.startsWith('file:')) {
    const path = fileURLToPath(specifier);
    if (!existsSync(path)) throw new UsageError(`Cannot find module ${specifier} (no file at ${path}).`);
    return specifier;
  }
  const path = resolve(specifier);
  if (!existsSync(path)) {
    throw new UsageError(`Cannot find module '${specifier}' (no file at ${path}). Give a path relative to the current folder, or a file: URL.`);
  }
  return pathToFileURL(path).href;
}

async function loadValue(specifier: string, exportName: string | undefined): Promise<unknown> {
  const url = moduleUrl(specifier);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const hint = /\.[mc]?ts$/.test(specifier) ? ' Node does not import TypeScript by itself: compile the module first, or run the CLI with a loader (node --import tsx ...).' : '';
    throw new UsageError(`Could not import '${specifier}': ${why}.${hint}`);
  }
  const name = exportName ?? 'default';
  if (!Object.hasOwn(namespace, name)) {
    const names = Object.keys(namespace);
    const exports = names.length ? `its exports are: ${names.join(', ')}` : 'it exports nothing';
    const what = exportName === undefined ? 'default export' : `export named '${exportName}'`;
    const fix = exportName === undefined && names.length ? '. Pick one with --export <name>' : '';
    throw new UsageError(`Module '${specifier}' has no ${what}; ${exports}${fix}.`);
  }
  return namespace[name];
}

async function compare(args: string[]): Promise<string> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      export: { type: 'string' },
      serializers: { type: 'string' },
      repeat: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return HELP;
  const [specifier, ...extra] = positionals;
  if (specifier === undefined) throw new UsageError('Missing <module>: joblet compare <module>. See joblet compare --help.');
  if (extra.length) throw new UsageError(`Expected one module, got ${positionals.length}: ${positionals.join(' ')}.`);
  let repeat: number | undefined;
  if (values.repeat !== undefined) {
    repeat = Number(values.repeat);
    if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError(`Expected --repeat to be an integer from 1 and up, got '${values.repeat}'.`);
  }
  const serializers = values.serializers?.split(',').map((name) => name.trim()).filter(Boolean);
  const value = await loadValue(specifier, values.export);
  let rows;
  try {
    rows = await compareSerializers(value, { serializers, repeat });
  } catch (error) {
    // An unknown serializer name: the registry's message lists the registered ones.
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  return values.json ? JSON.stringify(rows, null, 2) : formatComparisonTable(rows);
}

const WORKER_HELP = `Usage: joblet worker --redis <url> --secret-file <file> [options]

Serves the bullmq backend: takes batches of tasks from a BullMQ queue on
Redis and runs them on a local pool. Prints one line when ready; SIGTERM or
Ctrl-C finishes the batches in hand and exits.

Options:
  --redis <url>          redis://host:port, rediss:// (TLS), or a unix socket
                         path (default: redis://127.0.0.1:6379)
  --secret-file <file>   the secret shared with the producers (at least 32
                         bytes); or set JOBLET_SECRET
  --queue <name>         the queue to serve (default: joblet)
  --concurrency <n>      batches at once, one local worker each (default:
                         the number of cores)
  --pool <kind>          threads (default) or processes: where tasks run
  --lock-duration <ms>   BullMQ's lock on a running batch (default 30000): if
                         this process dies, another worker runs the batch
                         again once the lock expired, so a batch may run twice
  --stalled-interval <ms>  how often expired locks are looked for (default 30000)
  --max-stalled <n>      re-runs of a batch whose worker died before it fails
                         with WorkerCrashedError (default 1)
  --cache-mb <n>         the most megabytes of defs (task functions, persisted
                         values) kept between batches; least recently used
                         go first (default: 1024)
  --verbose              one line per batch on stderr
  -h, --help             show this help`;

async function worker(args: string[]): Promise<string | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      redis: { type: 'string' },
      'secret-file': { type: 'string' },
      queue: { type: 'string', default: 'joblet' },
      concurrency: { type: 'string' },
      pool: { type: 'string', default: 'threads' },
      verbose: { type: 'boolean', default: false },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
      'max-stalled': { type: 'string' },
      'cache-mb': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const count = (flag: 'lock-duration' | 'stalled-interval' | 'max-stalled' | 'cache-mb', least: number) => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < least) throw new UsageError(`Expected --${flag} to be an integer from ${least} up, got '${text}'.`);
    return value;
  };
  const stalled = { lockDuration: count('lock-duration', 1000), stalledInterval: count('stalled-interval', 100), maxStalledCount: count('max-stalled', 0) };
  const cacheMb = count('cache-mb', 1);
  if (values.help) return WORKER_HELP;
  const pool = values.pool;
  if (pool !== 'threads' && pool !== 'processes') throw new UsageError(`Expected --pool to be threads or processes, got '${pool}'.`);
  const concurrency = values.concurrency === undefined ? cpuCount() : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`Expected --concurrency to be an integer from 1 and up, got '${values.concurrency}'.`);
  // Loaded here: only this command needs bullmq.
  const { loadSecret, parseConnection } = await import('./backends/bullmq/options.js');
  const { startWorker } = await import('./backends/bullmq/worker.js');
  let secret: Buffer;
  let connection;
  try {
    secret = loadSecret(undefined, values['secret-file']);
    connection = parseConnection(values.redis);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // Listen for signals before the ready line: a SIGTERM right after it must still close cleanly.
  let signalled: string | undefined;
  let onSignal: ((signal: string) => void) | undefined;
  const listen = (signal: string) => {
    signalled ??= signal;
    onSignal?.(signal);
  };
  process.once('SIGTERM', () => listen('SIGTERM'));
  process.once('SIGINT', () => listen('SIGINT'));
  const running = await startWorker({ connection: connection.options, where: connection.where, queue: values.queue!, secret, concurrency, pool, verbose: values.verbose, ...stalled, cacheBytes: cacheMb === undefined ? undefined : cacheMb * 1024 * 1024 });
  await new Promise<void>((resolve) => {
    onSignal = (signal: string) => {
      process.stderr.write(`joblet worker ${running.id}: ${signal}, finishing the batches in hand\n`);
      running.close().then(resolve, resolve);
    };
    if (signalled) onSignal(signalled);
  });
  return undefined;
}

async function main(argv: string[]): Promise<string | undefined> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError(`Missing command.\n\n${HELP}`);
  if (command === '-h' || command === '--help' || command === 'help') return HELP;
  if (command === 'worker') return worker(rest);
  if (command !== 'compare') throw new UsageError(`Unknown command '${command}'. The commands are 'compare' and 'worker'; see joblet --help.`);
  return compare(rest);
}

// The value's module may leave timers or sockets open: the command exits once the report is out.
const exit = (code: number) => process.exit(code);
main(process.argv.slice(2)).then(
  (output) => (output === undefined ? exit(0) : process.stdout.write(`${output}\n`, () => exit(0))),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string } | null)?.code?.startsWith('ERR_PARSE_ARGS');
    const text = usage ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`joblet: ${text}\n`, () => exit(1));
  },
);
