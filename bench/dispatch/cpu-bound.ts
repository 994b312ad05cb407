/**
 * 3. CPU-bound: 200 tasks of about 20 ms each (a busy loop calibrated here),
 *    in sequence in the main thread (the baseline) against joblet with
 *    nJobs 2; piscina and bare worker_threads with the same tasks for
 *    reference (the bare workers are the ceiling the machine allowed at the
 *    time). The process's CPU time over the wall time says how many cores
 *    each run really got. Target: a speedup of at least 1.9.
 *
 * The speedup is a ratio of two cases a few percent apart on a shared
 * machine, so the cases are timed by hand in 3 interleaved rounds (benny
 * would time all of one case, then all of the next, and the load can change
 * in between) and judged on the medians and on the fastest runs. Its
 * figures: bench/results/dispatch-cpu.json and its chart.
 *
 * Alone: npm run build && node dist/bench/dispatch/cpu-bound.js
 */
import { delayed } from 'joblet';
import type { BarChart } from '../lib/chart.js';
import { isEntry } from '../lib/paths.js';
import { markdownTable, median, notes, sortedCopy, spread, verdict } from '../lib/report.js';
import type { RssByPhase } from '../lib/rss.js';
import { spin } from '../lib/workers/spin.js';
import { N_JOBS, PISCINA, check, runAlone, type Pools } from './pools.js';

const CPU_TASKS = 200;
const CPU_TASK_MS = 20;
const CPU_ROUNDS = 3;
/** Target (issue 5). */
const SPEEDUP_TARGET = 1.9;

/** Iterations of spin() that take about CPU_TASK_MS here: the median of 5 timings, scaled twice. */
function calibrate(): { iterations: number; ms: number } {
  let iterations = 1_000_000;
  for (let k = 0; k < 5; k++) spin(iterations, k); // compiled before timing
  let ms = 0;
  for (let pass = 0; pass < 3; pass++) {
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const begun = performance.now();
      spin(iterations, k);
      times.push(performance.now() - begun);
    }
    ms = sortedCopy(times)[2]!;
    if (pass < 2) iterations = Math.round((iterations * CPU_TASK_MS) / ms);
  }
  return { iterations, ms };
}

interface CpuCase {
  name: string;
  given: string;
  run(): Promise<ArrayLike<number>>;
}

const SEQUENTIAL = 'sequential, main thread';
const JOBLET_CPU = `joblet, nJobs ${N_JOBS}`;

function cpuCasesOf({ joblet, piscina, raw }: Pools, cpuTasks: { iterations: number; seed: number }[]): CpuCase[] {
  return [
    {
      name: SEQUENTIAL,
      given: '`tasks.map(({ iterations, seed }) => spin(iterations, seed))`, no worker',
      run: async () => cpuTasks.map(({ iterations, seed }) => spin(iterations, seed)),
    },
    {
      name: JOBLET_CPU,
      given: "`parallel.run(tasks.map(({ iterations, seed }) => delayed(spin)(iterations, seed)))`, batchSize 'auto'",
      run: () => joblet.run(cpuTasks.map(({ iterations, seed }) => delayed(spin)(iterations, seed))),
    },
    {
      name: `${PISCINA}, ${N_JOBS} threads`,
      given: '`Promise.all(tasks.map((t) => pool.run(t)))`',
      run: () => Promise.all(cpuTasks.map((t) => piscina.run(t) as Promise<number>)),
    },
    {
      name: `worker_threads, ${N_JOBS} workers`,
      given: 'one message per task dealt round robin to the bare workers: an even split, the ceiling',
      run: () => raw.each<number>(cpuTasks),
    },
  ];
}

interface CpuRow {
  name: string;
  /** ms per run, one per round. */
  times: number[];
  /** CPU time of the whole process (every thread) over wall time, per round: the cores the run got. */
  cores: number[];
  medianMs: number;
  fastestMs: number;
  /** Sequential median over this median; the same on the fastest runs; and per round. */
  speedup: number;
  fastestSpeedup: number;
  roundSpeedups: number[];
}

/** Every case once per round, in a rotating order; each run's results checked. */
async function measureRounds(
  cases: CpuCase[],
  expected: number[],
  rss: RssByPhase,
): Promise<{ times: Map<string, number[]>; cores: Map<string, number[]> }> {
  const times = new Map(cases.map((c) => [c.name, [] as number[]]));
  const cores = new Map(cases.map((c) => [c.name, [] as number[]]));
  for (let r = 0; r < CPU_ROUNDS; r++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(r + k) % cases.length]!;
      rss.phase = `cpu: ${c.name}`;
      rss.sample();
      const cpuBefore = process.cpuUsage();
      const begun = performance.now();
      const results = await c.run();
      const ms = performance.now() - begun;
      const cpu = process.cpuUsage(cpuBefore);
      check(c.name, results, (i) => expected[i]!, CPU_TASKS);
      times.get(c.name)!.push(ms);
      cores.get(c.name)!.push((cpu.user + cpu.system) / 1000 / ms);
      console.log(`  round ${r + 1}, ${c.name}: ${ms.toFixed(0)} ms, ${((cpu.user + cpu.system) / 1000 / ms).toFixed(2)} cores`);
    }
  }
  return { times, cores };
}

export interface CpuBound {
  calibration: { iterations: number; ms: number };
  cases: CpuCase[];
  rows: CpuRow[];
}

export async function measureCpuBound(rss: RssByPhase, pools: Pools): Promise<CpuBound> {
  rss.phase = 'calibrate';
  const calibration = calibrate();
  const cpuTasks = Array.from({ length: CPU_TASKS }, (_, seed) => ({ iterations: calibration.iterations, seed }));
  const cpuExpected = cpuTasks.map(({ iterations, seed }) => spin(iterations, seed));
  // joblet compiles spin in its workers before timing.
  await pools.joblet.run([delayed(spin)(1000, 0), delayed(spin)(1000, 1)]);
  const cases = cpuCasesOf(pools, cpuTasks);

  console.log(
    `\nCPU-bound: ${CPU_TASKS} tasks of about ${CPU_TASK_MS} ms (spin(${calibration.iterations.toLocaleString('en-US')}) took ${calibration.ms.toFixed(1)} ms in the main thread), ${CPU_ROUNDS} interleaved rounds`,
  );
  const measured = await measureRounds(cases, cpuExpected, rss);
  const base = measured.times.get(SEQUENTIAL)!;
  const rows = cases.map((c) => {
    const times = measured.times.get(c.name)!;
    return {
      name: c.name,
      times,
      cores: measured.cores.get(c.name)!,
      medianMs: median(times),
      fastestMs: Math.min(...times),
      speedup: median(base) / median(times),
      fastestSpeedup: Math.min(...base) / Math.min(...times),
      roundSpeedups: times.map((ms, r) => base[r]! / ms),
    };
  });
  return { calibration, cases, rows };
}

export function cpuBoundSections({ calibration, cases, rows }: CpuBound, rss: RssByPhase): string[] {
  return [
    `### CPU-bound: ${CPU_TASKS} tasks of about ${CPU_TASK_MS} ms (\`spin(${calibration.iterations.toLocaleString('en-US')}, seed)\`, ${calibration.ms.toFixed(1)} ms in the main thread), ${CPU_ROUNDS} interleaved rounds`,
    markdownTable(
      ['case', 'ms per run, median', 'fastest (ms)', 'each round (ms)', 'cores used, each round', 'speedup over sequential (medians)', 'fastest-run speedup', 'per-round speedup: median (min–max)', 'RSS (MiB): start → peak'],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      rows.map((r) => [
        r.name === SEQUENTIAL ? `${r.name} (baseline)` : r.name,
        r.medianMs.toFixed(0),
        r.fastestMs.toFixed(0),
        r.times.map((ms) => ms.toFixed(0)).join(', '),
        r.cores.map((c) => c.toFixed(2)).join(', '),
        `${r.speedup.toFixed(2)}×`,
        `${r.fastestSpeedup.toFixed(2)}×`,
        r.name === SEQUENTIAL ? '' : spread(r.roundSpeedups, 2),
        rss.cell(`cpu: ${r.name}`),
      ]),
    ),
    notes(cases),
  ];
}

/** The target's line under 'Targets', and its verdict for dispatch.json. */
export function cpuBoundTarget({ rows }: CpuBound): { line: string; verdict: string } {
  const jobletCpu = rows.find((r) => r.name === JOBLET_CPU)!;
  const ceilingCpu = rows[rows.length - 1]!;
  const sequentialCpu = rows[0]!;
  const speedupVerdict = verdict(jobletCpu.speedup >= SPEEDUP_TARGET, jobletCpu.fastestSpeedup >= SPEEDUP_TARGET);
  const line =
    `- CPU-bound, joblet's speedup at least ${SPEEDUP_TARGET} on ${N_JOBS} workers: **${speedupVerdict}**; ` +
    `${jobletCpu.speedup.toFixed(3)}× (medians), ${jobletCpu.fastestSpeedup.toFixed(3)}× (fastest runs); ` +
    `bare workers in the same rounds ${ceilingCpu.speedup.toFixed(3)}× (medians), ${ceilingCpu.fastestSpeedup.toFixed(3)}× (fastest)` +
    (Math.min(ceilingCpu.speedup, ceilingCpu.fastestSpeedup) < SPEEDUP_TARGET
      ? `: the ceiling itself is under the target here. A task took ${(sequentialCpu.medianMs / CPU_TASKS).toFixed(1)} ms alone in the main thread, ` +
        `${((ceilingCpu.medianMs * N_JOBS) / CPU_TASKS).toFixed(1)} ms with ${N_JOBS} bare workers running at once (median run × ${N_JOBS} / ${CPU_TASKS}), ` +
        `with ${median(ceilingCpu.cores).toFixed(2)} cores in use`
      : '');
  return { line, verdict: speedupVerdict };
}

/** What dispatch-cpu.json holds, and the chart drawn from it. */
export function cpuBoundFigures({ calibration, rows }: CpuBound, date: string): { figures: object; chart: BarChart } {
  return {
    figures: { date, unit: 'ms per run', calibration, rows },
    chart: {
      title: `${CPU_TASKS} tasks of about ${CPU_TASK_MS} ms: speedup over sequential (higher is better)`,
      axis: 'speedup',
      labels: rows.map((r) => r.name),
      datasets: [{ label: 'speedup (medians)', data: rows.map((r) => r.speedup) }],
    },
  };
}

if (isEntry(import.meta.url)) {
  await runAlone(
    (rss, pools) => measureCpuBound(rss, pools!),
    (result, rss) => ({ sections: cpuBoundSections(result, rss), targets: [cpuBoundTarget(result).line] }),
  );
}
