/**
 * The fuzzer's child process: runs cases `from` .. `from + runs - 1` of the run seeded `seed`
 * on real workers and prints one JSON line per event on stdout, so the parent (driver.ts) sees
 * progress, tells a hang (no line for a while) and a crash of this process (it ends early) from
 * a failure, and resumes after either.
 *
 * Each case is a hostile value (recipes.ts) sent as an argument, captured by a closure, or
 * returned by the task, under one serializer on threads or processes. It passes when the value
 * arrives as the serializer's own round trip makes it (reference.ts: its documented losses:
 * JSON's, devalue's, structured clone's; closure and auto lose nothing), compared by
 * describe.ts where it was rebuilt, or when it is refused with a SerializationError naming a
 * path and the serializer. After each case a follow-up task must work on the same pool.
 *
 * Usage: node runner.js SEED FROM RUNS [CASES]: CASES, a JSON list of cases, runs those (by their
 * index in the list) instead of the seeded ones: the findings kept as fixed cases.
 */
import { delayed, Parallel, SerializationError, TaskError, WorkerCrashedError } from 'joblet';
import { build, caseAt, kindsOf, type FuzzCase, type Recipe } from './recipes.js';
import { describe, firstDifference } from './describe.js';
import { expectedFor, REFUSED } from './reference.js';

const DESCRIBE_URL = new URL('./describe.js', import.meta.url).href;
const RECIPES_URL = new URL('./recipes.js', import.meta.url).href;

export type Event =
  | { event: 'start'; index: number; fuzzCase: FuzzCase }
  | { event: 'done'; index: number; outcome: 'same' | 'refused'; kinds: string[]; refusal?: string }
  | { event: 'failure'; index: number; kind: 'wrong' | 'raw error' | 'crash' | 'unusable'; message: string }
  | { event: 'end' };

const emit = (e: Event) => process.stdout.write(`${JSON.stringify(e)}\n`);

const describeIn = async (url: string, loose: boolean, v: unknown) => ((await import(url)) as typeof import('./describe.js')).describe(v, { loose });
function capturing(captured: unknown) {
  return async (url: string, loose: boolean) => ((await import(url)) as typeof import('./describe.js')).describe(captured, { loose });
}
/** Loads the recipes in the worker, so that the task that returns a value can be synchronous: an async task resolving to a revoked Proxy throws in its own `then` lookup. */
const loadRecipes = async (url: string) => {
  (globalThis as { jobletFuzzRecipes?: unknown }).jobletFuzzRecipes = await import(url);
  return true;
};
const buildIn = (recipe: string) => ((globalThis as { jobletFuzzRecipes?: typeof import('./recipes.js') }).jobletFuzzRecipes!).build(JSON.parse(recipe));
const followUp = (x: number) => x + 1;

const pools = new Map<string, Parallel>();
function pool({ serializer, backend }: FuzzCase): Parallel {
  const key = `${serializer}/${backend}`;
  let parallel = pools.get(key);
  if (!parallel) pools.set(key, (parallel = new Parallel({ nJobs: 1, serializer, backend })));
  return parallel;
}

async function runCase(index: number, fuzzCase: FuzzCase): Promise<Event> {
  const { recipe, serializer, mode } = fuzzCase;
  const value = build(recipe);
  const want = await expectedFor(fuzzCase, value);
  const parallel = pool(fuzzCase);
  const loose = serializer === 'auto';
  if (mode === 'return') await parallel.run([delayed(loadRecipes)(RECIPES_URL)]);
  const task =
    mode === 'argument' ? delayed(describeIn)(DESCRIBE_URL, loose, value) : mode === 'captured' ? delayed(capturing(value))(DESCRIBE_URL, loose) : delayed(buildIn)(JSON.stringify(recipe));
  let outcome: 'same' | 'refused';
  let refusal: string | undefined;
  try {
    const [result] = await parallel.run([task]);
    const got = mode === 'return' ? describe(result, { loose }) : (result as string);
    if (want === REFUSED) return { event: 'failure', index, kind: 'wrong', message: `the serializer's own round trip refuses this value, yet it arrived as:\n${got.slice(0, 600)}` };
    if (typeof want === 'object') return { event: 'failure', index, kind: 'wrong', message: `the task throws here (${want.threw}), yet the worker answered:\n${got.slice(0, 600)}` };
    if (got !== want) return { event: 'failure', index, kind: 'wrong', message: firstDifference(want, got) };
    outcome = 'same';
  } catch (error) {
    if (error instanceof WorkerCrashedError) return { event: 'failure', index, kind: 'crash', message: error.message };
    // The task threw in the worker as it throws here (a getter the codec kept): the same answer.
    if (typeof want === 'object' && error instanceof TaskError && error.originalMessage === want.threw) {
      return followedUp(index, parallel, 'same', recipe);
    }
    if (!(error instanceof SerializationError) || !error.path || error.serializer !== serializer) {
      const what = error instanceof SerializationError ? `SerializationError with path '${error.path}' and serializer '${error.serializer}'` : `${(error as Error)?.name}`;
      return { event: 'failure', index, kind: 'raw error', message: `${what}: ${(error as Error)?.message ?? String(error)}`.slice(0, 1000) };
    }
    outcome = 'refused';
    // What was refused, without the parts that vary (numbers, quoted names): the figures group by it.
    refusal = `${serializer}: ${error.problem.replace(/\d+/g, 'N').replace(/`[^`]*`/g, '`…`').slice(0, 90)}`;
  }
  return followedUp(index, parallel, outcome, recipe, refusal);
}

/** After each case, a follow-up task must work on the same pool. */
async function followedUp(index: number, parallel: Parallel, outcome: 'same' | 'refused', recipe: Recipe, refusal?: string): Promise<Event> {
  try {
    const [next] = await parallel.run([delayed(followUp)(41)]);
    if (next !== 42) return { event: 'failure', index, kind: 'unusable', message: `the follow-up task gave ${String(next)}` };
  } catch (error) {
    return { event: 'failure', index, kind: 'unusable', message: `the follow-up task failed: ${(error as Error).message}` };
  }
  return { event: 'done', index, outcome, kinds: [...kindsOf(recipe)], ...(refusal ? { refusal } : {}) };
}

const [seed, from, runs] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const fixed = process.argv[5] === undefined ? undefined : (JSON.parse(process.argv[5]) as FuzzCase[]);
try {
  for (let index = from; index < from + runs; index++) {
    const fuzzCase = fixed ? fixed[index]! : caseAt(seed, index);
    emit({ event: 'start', index, fuzzCase });
    emit(await runCase(index, fuzzCase));
  }
} finally {
  await Promise.all([...pools.values()].map((p) => p.close()));
}
emit({ event: 'end' });
