/**
 * The clock of readings and the wording of call timeouts, apart from the device model
 * (`./device.ts`, which re-exports both): a read of `ca://` PVs needs these two and none of it.
 *
 * @example
 * ```ts
 * import { formatMs, nowSeconds } from "./clock.ts";
 * nowSeconds(); // e.g. 1796320358.555
 * formatMs(1500); // "1.5 s"
 * ```
 *
 * @module
 */

/** Returns the current time as Unix epoch seconds with millisecond precision. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}

/** Formats milliseconds for messages: "250 ms", "1.5 s". */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${+(ms / 1000).toFixed(3)} s`;
}
