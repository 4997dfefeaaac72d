/** Timing helpers shared by the benchmarks: percentiles and a timed loop after a warm-up. */

export const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

export const median = (xs: number[]): number => percentile(xs, 0.5);

/** `n` timings (ms) of `fn`, after `warmup` untimed calls (JIT, caches, lazy loading). */
export async function timeEach(
  n: number,
  fn: () => Promise<unknown>,
  warmup = Math.min(50, n),
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}
