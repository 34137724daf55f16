/**
 * Percentiles of timing samples, for `--stats` summaries and benchmarks.
 *
 * @module
 */

/**
 * Returns the p-th percentile (0–100) of `values` by nearest rank; NaN for no values.
 *
 * @example
 * ```ts
 * import { percentile } from "./percentile.ts";
 * percentile([1, 2, 3, 4], 50); // 2
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Timing samples (ms) as p50/p99/max, rounded to 0.01 ms (for `stream --stats` and benchmarks). */
export function latencyStats(values: readonly number[]): { p50: number; p99: number; max: number } {
  const r = (x: number) => Math.round(x * 100) / 100;
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  return {
    p50: r(percentile(values, 50)),
    p99: r(percentile(values, 99)),
    max: values.length ? r(max) : NaN,
  };
}
