/**
 * The fuzzer's parent: runs the cases in a child process (runner.ts) under a watchdog. A case
 * after which the child prints nothing for `hangMs` is a hang: the child is killed (its whole
 * process group: its workers too) and the run resumes at the next case; a child that ends
 * before its last case crashed on that case, and the run resumes too. The watchdog waits for
 * progress, not for a bound on any case: a case that is slow but moves on is not a hang.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Event } from './runner.js';
import type { FuzzCase } from './recipes.js';

const runner = fileURLToPath(new URL('./runner.js', import.meta.url));

export interface Failure {
  seed: number;
  index: number;
  kind: string;
  message: string;
  fuzzCase: FuzzCase | undefined;
}

export interface FuzzSummary {
  seed: number;
  casesRun: number;
  same: number;
  refused: number;
  failures: Failure[];
  /** How many cases held each kind of hostile value. */
  kinds: Record<string, number>;
  /** Cases per serializer: how many arrived the same, how many were refused. */
  bySerializer: Record<string, { same: number; refused: number }>;
  /** Why values were refused, per serializer, and how often. */
  refusals: Record<string, number>;
}

export interface FuzzOptions {
  seed: number;
  runs: number;
  /** The first case's index (to rerun one case: its index and runs 1). */
  from?: number;
  /** These cases (by their index in the list) instead of the seeded ones; `runs` and `from` then count in this list. */
  cases?: FuzzCase[];
  /** No line from the child for this long after a case started: a hang. */
  hangMs?: number;
  onEvent?: (event: Event) => void;
}

/** One child run from `from`; resolves with the index to resume at, or `end` when all ran. */
function runChild(seed: number, from: number, count: number, hangMs: number, summary: FuzzSummary, onEvent?: (e: Event) => void, cases?: FuzzCase[]): Promise<number | 'end'> {
  return new Promise((resolve) => {
    const args = [runner, String(seed), String(from), String(count), ...(cases ? [JSON.stringify(cases)] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let current: { index: number; fuzzCase: FuzzCase } | undefined;
    let buffered = '';
    let stderr = '';
    let ended = false;
    let hung = false;
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    let watchdog = setTimeout(() => ((hung = true), stop()), hangMs);
    const fail = (kind: string, message: string) =>
      summary.failures.push({ seed, index: current?.index ?? from, kind, message, fuzzCase: current?.fuzzCase });
    child.stderr!.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
    child.stdout!.on('data', (chunk) => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ((hung = true), stop()), hangMs);
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const event = JSON.parse(line) as Event;
        onEvent?.(event);
        if (event.event === 'start') current = { index: event.index, fuzzCase: event.fuzzCase };
        else if (event.event === 'end') ended = true;
        else {
          summary.casesRun++;
          if (event.event === 'failure') fail(event.kind, event.message);
          else {
            summary[event.outcome]++;
            const row = (summary.bySerializer[current!.fuzzCase.serializer] ??= { same: 0, refused: 0 });
            row[event.outcome]++;
            if (event.refusal) summary.refusals[event.refusal] = (summary.refusals[event.refusal] ?? 0) + 1;
            for (const kind of event.kinds) summary.kinds[kind] = (summary.kinds[kind] ?? 0) + 1;
          }
          current = undefined;
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (ended && code === 0) return resolve('end');
      if (current) {
        summary.casesRun++;
        fail(hung ? 'hang' : 'main-process crash', hung ? `no answer within ${hangMs} ms` : `the process running the cases ended (${signal ?? `code ${code}`}): ${stderr.slice(-1500)}`);
        return resolve(current.index + 1);
      }
      // Died between cases (closing the pools at the end, or starting up): the closing is a failure too.
      fail(hung ? 'hang' : 'main-process crash', `between cases (${signal ?? `code ${code}`}): ${stderr.slice(-1500)}`);
      resolve('end');
    });
  });
}

/** Runs cases from .. from+runs-1 of `seed`, resuming after hangs and crashes. */
export async function fuzz({ seed, runs, from: first = 0, cases, hangMs = 120_000, onEvent }: FuzzOptions): Promise<FuzzSummary> {
  const summary: FuzzSummary = { seed, casesRun: 0, same: 0, refused: 0, failures: [], kinds: {}, bySerializer: {}, refusals: {} };
  let from = first;
  while (from < first + runs) {
    const next = await runChild(seed, from, first + runs - from, hangMs, summary, onEvent, cases);
    if (next === 'end') break;
    from = next;
  }
  return summary;
}

/** A failure as the report prints it, with the command that reproduces it. */
export function formatFailure(f: Failure): string {
  const c = f.fuzzCase;
  const recipe = c ? JSON.stringify(c.recipe) : '?';
  return [
    `${f.kind}: case ${f.index} of seed ${f.seed}${c ? ` (${c.serializer}, ${c.mode}, ${c.backend})` : ''}`,
    `  ${f.message.split('\n').join('\n  ')}`,
    `  recipe: ${recipe.length > 400 ? `${recipe.slice(0, 400)}…` : recipe}`,
    `  reproduce: npm run fuzz -- --seed ${f.seed} --from ${f.index} --runs 1`,
  ].join('\n');
}
