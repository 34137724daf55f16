/**
 * Bearer tokens for servers bound beyond loopback: where the token comes from (`--token-file`,
 * then `LABWIRE_TOKEN`) and a comparison that does not leak how much of a guess was right.
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";

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

/**
 * Reads the token: the first line of `tokenFile` when given, else `envToken`. An empty or
 * unreadable file is a usage error naming the file.
 */
export async function loadToken(
  tokenFile: string | undefined,
  envToken: string | undefined,
): Promise<string | undefined> {
  if (tokenFile !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(tokenFile);
    } catch (err) {
      throw new UsageError(
        `--token-file ${tokenFile}: cannot read it (${(err as Error).message})`,
        undefined,
        { cause: err },
      );
    }
    const token = text.split(/\r?\n/)[0]!.trim();
    if (token.length < 16) {
      throw new UsageError(
        `--token-file ${tokenFile}: the token must be at least 16 characters on the first line`,
        "make one with: head -c 32 /dev/urandom | base64 > token",
      );
    }
    return token;
  }
  const env = envToken?.trim();
  if (env !== undefined && env !== "") {
    if (env.length < 16) throw new UsageError("LABWIRE_TOKEN must be at least 16 characters");
    return env;
  }
  return undefined;
}
