/**
 * Noise as a pure function of (seed, channel, time tick): two simulated devices with the same
 * seed agree whenever they are read at the same millisecond, however often each is read, and in
 * different processes too. A sequential generator could not promise that.
 *
 * @module
 */

/** Mixes integers into a well-spread 32-bit hash (murmur3's finaliser over a running state). */
export function hash32(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    // Split so ticks above 2^32 (epoch milliseconds) still change the hash.
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = Math.imul(h ^ lo, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ hi, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A uniform float in [0, 1) fixed by its arguments.
 *
 * @example
 * ```ts
 * import { uniformAt } from "./noise.ts";
 * uniformAt(3, 0, 1000) === uniformAt(3, 0, 1000); // true
 * ```
 */
export function uniformAt(seed: number, channel: number, tick: number): number {
  // Clocks have sub-millisecond resolution; noise changes once per millisecond.
  return hash32(seed, channel, Math.floor(tick)) / 4294967296;
}

/**
 * A standard normal float fixed by its arguments (Box–Muller on two hashed uniforms).
 *
 * @example
 * ```ts
 * import { gaussAt } from "./noise.ts";
 * Math.abs(gaussAt(1, 2, 3)) < 10; // true
 * ```
 */
export function gaussAt(seed: number, channel: number, tick: number): number {
  const u = 1 - uniformAt(seed, channel * 2 + 1, tick);
  const v = uniformAt(seed, channel * 2 + 2, tick);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A slow, smooth wander in about [-1, 1]: three sinusoids with seeded periods (around
 * `periodS` seconds) and phases, so a reading drifts like a real instrument over minutes.
 *
 * @example
 * ```ts
 * import { driftAt } from "./noise.ts";
 * Math.abs(driftAt(7, 0, Date.now(), 300)) <= 1; // true
 * ```
 */
export function driftAt(seed: number, channel: number, tMs: number, periodS: number): number {
  let sum = 0;
  for (let k = 0; k < 3; k++) {
    const period = periodS * 1000 * (0.6 + uniformAt(seed, 1000 + channel * 8 + k, 0) * (k + 1));
    const phase = 2 * Math.PI * uniformAt(seed, 2000 + channel * 8 + k, 0);
    sum += Math.sin((2 * Math.PI * tMs) / period + phase) / 3;
  }
  return sum;
}

/**
 * Epoch milliseconds with sub-millisecond resolution: a fast motor must be able to finish a move
 * within the same millisecond it started (scans of zero-latency sims step in microseconds).
 */
export function preciseNow(): number {
  return TIME_ORIGIN + performance.now();
}

/** The process's `performance.timeOrigin` (a getter with a brand check, constant). */
const TIME_ORIGIN = performance.timeOrigin;

/** Epoch milliseconds at `mono`, a `performance.now()` reading (as {@linkcode preciseNow}'s). */
export function preciseAt(mono: number): number {
  return TIME_ORIGIN + mono;
}

/** Rounds to `digits` decimal places (instruments report a fixed resolution). */
export function roundTo(x: number, digits: number): number {
  const f = 10 ** Math.max(0, Math.min(15, digits));
  return Math.round(x * f) / f;
}
