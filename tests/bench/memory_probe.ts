/**
 * How long the machine takes to fetch memory that missed the core's own caches: a walk of
 * dependent loads over a random cycle of cache lines, timed. Over 4 MB (more than a core's L2,
 * less than the L3) it tells whether the shared L3 still holds what a process touched: ~17 ns a
 * load on this machine when it does, 100-700 ns when other work evicts it. A benchmark prints it
 * beside figures of a process whose working set is a few MB (the daemon's, see docs/benchmarks.md
 * "Thirteenth round on /read").
 *
 * @module
 */

/** Bytes of one cache line: one load per line, so that each load is a line of its own. */
const LINE = 64;

const walks = new Map<number, Int32Array>();

/** A random cycle through every line of `bytes` (Sattolo's shuffle; the same one every time). */
function walk(bytes: number): Int32Array {
  let next = walks.get(bytes);
  if (next) return next;
  const step = LINE / 4;
  const lines = Math.max(2, Math.floor(bytes / LINE));
  const order = new Int32Array(lines);
  for (let i = 0; i < lines; i++) order[i] = i;
  let seed = 0x9e3779b9;
  for (let i = lines - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const j = seed % i;
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  next = new Int32Array(lines * step);
  for (let i = 0; i < lines; i++) next[order[i]! * step] = order[(i + 1) % lines]! * step;
  walks.set(bytes, next);
  return next;
}

/**
 * Nanoseconds per load of a walk over `bytes` of memory, walked for about `ms` milliseconds of
 * wall time after one pass to fault the pages in (run it while this process has a core to itself,
 * between measurements: a process that loses its core meanwhile reads high).
 */
export function chaseNs(bytes = 4 << 20, ms = 30): number {
  const next = walk(bytes);
  let at = 0;
  for (let i = next.length / (LINE / 4); i > 0; i--) at = next[at]!;
  let loads = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 20_000; i++) at = next[at]!;
    loads += 20_000;
    t = performance.now();
  }
  // `at` kept alive so the walk cannot be dropped as dead code.
  return at < 0 ? NaN : ((t - t0) * 1e6) / loads;
}
