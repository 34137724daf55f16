/**
 * Server-side reduction of recorded data for plotting: a time range is cut into equal buckets and
 * each keeps its lowest and highest value, so spikes survive and a week of 10 Hz data (6 million
 * rows) becomes a few thousand points that plot instantly.
 *
 * @module
 */
import type { SampleSeries } from "./context.ts";

/**
 * Reduces points (sorted by time) to at most `maxPoints` buckets of min/max over `[from, to]`;
 * when they already fit, returns them all with min = max = value.
 *
 * @example
 * ```ts
 * import { downsample } from "./downsample.ts";
 * const s = downsample([0, 1, 2, 3], [5, 1, 7, 2], 0, 4, 2);
 * // s.t = [0, 2], s.min = [1, 2], s.max = [5, 7], s.bucket = 2
 * ```
 */
export function downsample(
  t: ArrayLike<number>,
  v: ArrayLike<number>,
  from: number,
  to: number,
  maxPoints: number,
): SampleSeries {
  const n = t.length;
  if (n <= maxPoints) {
    return { t: Array.from(t), min: Array.from(v), max: Array.from(v), rows: n, bucket: null };
  }
  const buckets = Math.max(1, Math.floor(maxPoints));
  const width = (to - from) / buckets || 1;
  const out: SampleSeries = { t: [], min: [], max: [], rows: n, bucket: width };
  let current = -1;
  for (let i = 0; i < n; i++) {
    const b = Math.min(buckets - 1, Math.max(0, Math.floor((t[i]! - from) / width)));
    const x = v[i]!;
    if (b !== current) {
      current = b;
      out.t.push(from + b * width);
      out.min.push(x);
      out.max.push(x);
    } else {
      const k = out.min.length - 1;
      if (x < out.min[k]!) out.min[k] = x;
      if (x > out.max[k]!) out.max[k] = x;
    }
  }
  return out;
}
