/**
 * Runs every conformance case in a real worker on 'threads' and on
 * 'processes' under the default serializer ('auto'), and sorts each answer:
 *
 * - CARRIED: the worker answered what the same call answers here;
 * - REFUSED: submission failed with a SerializationError that names a path
 *   and a remedy (what issue 13 allows instead of carrying);
 * - WRONG:   any other answer: a different value, an error or crash in the
 *   worker, or a refusal without path or remedy;
 * - SLOW:    the first capture did not end within SLOW_CAP_MS in a child
 *   process (issue 13, item 9), so the case was not run at all.
 *
 * One Parallel per backend (one worker each, so that consecutive runs of one
 * function meet the same worker) serves all cases and is closed in `finally`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed, getSerializer, SerializationError, TaskError } from 'joblet';
import { caseFn, taskOf, type Case } from './case.js';
import { difference, show } from './compare.js';

export type Outcome = 'CARRIED' | 'REFUSED' | 'WRONG' | 'SLOW';
export const BACKENDS = ['threads', 'processes'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface BackendResult {
  outcome: Outcome;
  /** The difference, the error's first line, or the refusal's path. */
  detail?: string;
}

export interface CaseResult {
  case: Case;
  /** Time of the first `getSerializer('auto').serialize(task)`, whether it succeeded or threw. */
  captureMs: number;
  /** First line of the error the first capture threw, if any. */
  captureError?: string;
  results: Record<Backend, BackendResult>;
  /** Wall time of each step of the case, for finding what makes the suite slow. */
  steps?: Record<string, number>;
}

/**
 * Past this, a capture counts as SLOW (a hang, not a slow machine) and the case is not run.
 * Speed is not judged here: a loaded 2-core machine made honest 0.5 s captures take over 3 s.
 * The bound (1 s before a refusal) is a figure `npm run conformance` prints (max capture).
 */
export const SLOW_CAP_MS = 30_000;
/** A run that has not answered by then is WRONG (a hung worker), and the backend's Parallel is replaced. */
const RUN_TIMEOUT_MS = 30_000;

const firstLine = (error: unknown) => String(error instanceof Error ? error.message : error).split('\n')[0]!.slice(0, 300);

/** The expected answer: the case's own, or the same call here (on a fresh copy when the case builds one). */
interface Expected {
  value?: unknown;
  error?: Error;
}

async function expectedOf(c: Case): Promise<Expected> {
  if ('expect' in c) return { value: c.expect };
  try {
    return { value: await taskOf(c, caseFn(c))(...(c.args ?? [])) };
  } catch (error) {
    if (c.throwsFrom) return { error: error as Error };
    throw new Error(`case '${c.name}' throws in the main thread: ${firstLine(error)}`);
  }
}

/** The first capture, timed; heavy cases in a child process first, so a capture that blocks cannot hold the suite. */
async function firstCapture(c: Case, probe: Promise<Probed> | undefined): Promise<Probed> {
  if (probe) {
    const probed = await probe;
    if (probed.slow) return probed;
  }
  const started = performance.now();
  try {
    getSerializer('auto').serialize(taskOf(c, caseFn(c)));
    return { ms: performance.now() - started };
  } catch (error) {
    return { ms: performance.now() - started, error: firstLine(error) };
  }
}

interface Probed {
  ms: number;
  error?: string;
  slow?: boolean;
}

function probeInChild(group: string, name: string): Promise<Probed> {
  const probe = fileURLToPath(new URL('./probe.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'joblet-realworld-probe-'));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [probe, group, name, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    // Loading the case's group may take seconds; the cap counts from the probe's 'ready'.
    let timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let ready = false;
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (!ready && out.includes('ready\n')) {
        ready = true;
        clearTimeout(timer);
        timer = setTimeout(() => child.kill('SIGKILL'), SLOW_CAP_MS);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line));
      } catch {
        resolve({ ms: SLOW_CAP_MS, slow: true, error: `capture did not end within ${SLOW_CAP_MS} ms` });
      }
    });
  });
}

/** Sorts one run's answer (or error) against the expected one. */
function judge(c: Case, expected: Expected, outcome: { value?: unknown; error?: unknown }): BackendResult {
  const { error } = outcome;
  if ('error' in outcome) {
    if (error instanceof SerializationError && error.phase === 'serialize-task') {
      if (error.path && error.remedy) return { outcome: 'REFUSED', detail: `at ${error.path}: ${error.problem.split('\n')[0]}` };
      return { outcome: 'WRONG', detail: `refused without path or remedy: ${firstLine(error)}` };
    }
    if (expected.error && error instanceof TaskError) {
      if (error.originalName !== expected.error.name || error.originalMessage !== expected.error.message) {
        return { outcome: 'WRONG', detail: `threw ${error.originalName}: ${error.originalMessage}, expected ${expected.error.name}: ${expected.error.message}` };
      }
      const stack = error.workerStack ?? '';
      if (c.throwsFrom && !stack.includes(c.throwsFrom)) {
        return { outcome: 'WRONG', detail: `the worker's stack does not name ${c.throwsFrom}: ${stack.split('\n')[1]?.trim() ?? '(no stack)'}` };
      }
      return { outcome: 'CARRIED' };
    }
    return { outcome: 'WRONG', detail: `${error instanceof Error ? error.name : 'thrown'}: ${firstLine(error)}` };
  }
  if (expected.error) return { outcome: 'WRONG', detail: `answered ${show(outcome.value)}, expected a throw` };
  const diff = difference(expected.value, outcome.value);
  return diff ? { outcome: 'WRONG', detail: diff } : { outcome: 'CARRIED' };
}

async function runOnce(parallel: Parallel, task: (...args: any[]) => unknown, args: unknown[]): Promise<{ value?: unknown; error?: unknown; hung?: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ hung: true; error: Error }>((resolve) => {
    timer = setTimeout(() => resolve({ hung: true, error: new Error(`no answer within ${RUN_TIMEOUT_MS} ms`) }), RUN_TIMEOUT_MS);
  });
  const run = parallel.run([delayed(task)(...args)]).then(
    ([value]) => ({ value }),
    (error: unknown) => ({ error }),
  );
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// The Parallels of the run in progress: one per backend, and every one opened, to close them all.
const parallels = new Map<Backend, Parallel>();
const opened: Parallel[] = [];
function openParallel(backend: Backend): Parallel {
  const parallel = new Parallel({ backend, nJobs: 1 });
  parallels.set(backend, parallel);
  opened.push(parallel);
  return parallel;
}
const parallelOf = (backend: Backend) => parallels.get(backend) ?? openParallel(backend);

/** Runs a case (`runs` times in a row, on one worker) on one backend and judges each answer. */
async function runCase(c: Case, expected: Expected, backend: Backend): Promise<BackendResult> {
  const task = taskOf(c, caseFn(c));
  let verdict: BackendResult = { outcome: 'CARRIED' };
  for (let run = 0; run < (c.runs ?? 1) && verdict.outcome === 'CARRIED'; run++) {
    const outcome = await runOnce(parallelOf(backend), task, c.args ?? []);
    verdict = judge(c, expected, outcome);
    if (verdict.outcome !== 'CARRIED' && run > 0) verdict.detail = `run ${run + 1}: ${verdict.detail}`;
    // A hung worker would hold every later case: start the backend anew.
    if (outcome.hung) openParallel(backend);
  }
  return verdict;
}

export interface Group {
  name: string;
  cases: Case[];
}

/** Runs every case of every group on both backends; `onResult` sees each case as it is judged. */
export async function runConformance(groups: Group[], onResult?: (result: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  try {
    for (const backend of BACKENDS) openParallel(backend);
    // Heavy cases are probed in child processes first, all at once, while nothing else runs:
    // probing them beside the other cases would slow, and so misreport, those cases' captures.
    const probes = new Map<Case, Promise<Probed>>();
    for (const group of groups) for (const c of group.cases) if (c.heavy) probes.set(c, probeInChild(group.name, c.name));
    await Promise.all(probes.values());
    for (const group of groups) {
      for (const c of group.cases) {
        let t0 = performance.now();
        const steps: Record<string, number> = {};
        const lap = (name: string) => {
          const now = performance.now();
          steps[name] = Math.round(now - t0);
          t0 = now;
        };
        const expected = await expectedOf(c);
        lap('expected');
        const capture = await firstCapture(c, probes.get(c));
        lap('capture');
        const result: CaseResult = { case: c, captureMs: capture.ms, results: {} as Record<Backend, BackendResult> };
        if (capture.error) result.captureError = capture.error;
        // Both backends at once: their workers are apart, and the suite stays short on 2 cores.
        await Promise.all(
          BACKENDS.map(async (backend) => {
            result.results[backend] = capture.slow
              ? { outcome: 'SLOW', detail: capture.error ?? `capture over ${SLOW_CAP_MS} ms` }
              : await runCase(c, expected, backend);
          }),
        );
        lap('runs');
        result.steps = steps;
        results.push(result);
        onResult?.(result);
      }
    }
  } finally {
    for (const parallel of opened.splice(0)) await parallel.close();
    parallels.clear();
  }
  return results;
}
