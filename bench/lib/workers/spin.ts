/**
 * The CPU-bound task of bench/dispatch/cpu-bound.ts: a loop of integer multiplies,
 * `iterations` long, whose result depends on every step (so V8 cannot drop
 * it). Self-contained: joblet sends it as its source, the peers' workers
 * import it.
 */
export function spin(iterations: number, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < iterations; i++) h = Math.imul(h ^ i, 0x5bd1e995) ^ (h >>> 13);
  return h >>> 0;
}
