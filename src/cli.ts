#!/usr/bin/env node
/**
 * The `joblet` command. One subcommand so far:
 *
 *   joblet compare <module> [--export name] [--serializers a,b] [--repeat n] [--json]
 *
 * imports a module, takes one of its exports as the value, and prints
 * compareSerializers' report on it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { compareSerializers, formatComparisonTable } from './index.js';

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

async function main(argv: string[]): Promise<string> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError(`Missing command.\n\n${HELP}`);
  if (command === '-h' || command === '--help' || command === 'help') return HELP;
  if (command !== 'compare') throw new UsageError(`Unknown command '${command}'. The only command is 'compare'; see joblet --help.`);
  return compare(rest);
}

// The value's module may leave timers or sockets open: the command exits once the report is out.
const exit = (code: number) => process.exit(code);
main(process.argv.slice(2)).then(
  (output) => process.stdout.write(`${output}\n`, () => exit(0)),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string } | null)?.code?.startsWith('ERR_PARSE_ARGS');
    const text = usage ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`joblet: ${text}\n`, () => exit(1));
  },
);
