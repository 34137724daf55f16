/**
 * Reads the SMTP password from where `[notify.smtp]` says it is (an environment variable or a
 * file) when the notifier starts, so a missing secret is an error at start, not at the first
 * alarm. The value is returned to the caller only; it is never logged or stored in config.
 *
 * @module
 */
import { ConfigError } from "../device/errors.ts";
import type { SecretSource } from "./notify_config.ts";

/**
 * Returns the secret (a file's trailing newline removed); throws {@linkcode ConfigError} naming
 * the key when the variable is unset or the file unreadable.
 *
 * @example
 * ```ts
 * import { readSecret } from "./secret.ts";
 * Deno.env.set("EXAMPLE_SMTP_PASSWORD", "s3cret");
 * readSecret({ env: "EXAMPLE_SMTP_PASSWORD" }); // "s3cret"
 * ```
 */
export function readSecret(source: SecretSource, file?: string, key = "notify.smtp"): string {
  if ("env" in source) {
    const value = Deno.env.get(source.env);
    if (value === undefined || value === "") {
      throw new ConfigError(
        `environment variable ${source.env} is not set; export it before starting labwire`,
        file,
        `${key}.password_env`,
      );
    }
    return value;
  }
  try {
    return Deno.readTextFileSync(source.file).replace(/\r?\n$/, "");
  } catch (err) {
    throw new ConfigError(
      `cannot read the password file ${source.file}: ${(err as Error).message}`,
      file,
      `${key}.password_file`,
      { cause: err },
    );
  }
}
