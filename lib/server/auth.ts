/**
 * Bearer tokens for servers bound beyond loopback: where the token comes from (`--token-file`,
 * then `LABWIRE_TOKEN`) and a comparison that does not leak how much of a guess was right.
 *
 * @module
 */

/**
 * Compares two strings in time that depends only on their lengths.
 *
 * @example
 * ```ts
 * import { timingSafeEqualText } from "./auth.ts";
 * timingSafeEqualText("s3cret", "s3cret"); // true
 * ```
 */
export function timingSafeEqualText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The token from `--token-file` or `LABWIRE_TOKEN` (lives in `lib/config/token.ts`). */
export { loadToken } from "../config/token.ts";
