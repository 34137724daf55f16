/**
 * Where a bearer token comes from, for `serve` and for the clients of a daemon (`labwire task`,
 * `labwire://` devices): a file's first line, then `LABWIRE_TOKEN`; at least 16 characters.
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";
import { readNamedFile } from "./named_file.ts";

/**
 * Reads the token: the first line of `tokenFile` when given, else `envToken`. An empty or
 * unreadable file is a usage error naming the file as `what` names it (`--token-file` for a
 * flag, `token_file` for a device option).
 *
 * @example
 * ```ts
 * import { loadToken } from "./token.ts";
 * await loadToken(undefined, "0123456789abcdef"); // "0123456789abcdef"
 * ```
 */
export async function loadToken(
  tokenFile: string | undefined,
  envToken: string | undefined,
  what = "--token-file",
): Promise<string | undefined> {
  if (tokenFile !== undefined) {
    const text = await readNamedFile(what, tokenFile);
    const token = text.split(/\r?\n/)[0]!.trim();
    if (token.length < 16) {
      throw new UsageError(
        `${what} ${tokenFile}: the token must be at least 16 characters on the first line`,
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
