/**
 * Reading a file that a setting names (`ca_file`, `token_file`, `--tls-cert`, `[mqtt]
 * password_file`): one wording for a file that cannot be read, naming the setting and the path.
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";

/**
 * Reads the text of `file`, named by the setting `what`; a {@linkcode UsageError} saying
 * `WHAT FILE: cannot read it (why)` when it cannot.
 *
 * @example
 * ```ts ignore
 * const ca = await readNamedFile("ca_file", "/etc/labwire/ca.pem");
 * ```
 */
export async function readNamedFile(what: string, file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    throw new UsageError(
      `${what} ${file}: cannot read it (${(err as Error).message})`,
      undefined,
      { cause: err },
    );
  }
}
