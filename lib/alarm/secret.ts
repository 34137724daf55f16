/**
 * Reads secrets (the SMTP password, a webhook's URL or header values) from where the config says
 * they are (an environment variable or a file) when the notifier starts, so a missing secret is
 * an error at start, not at the first alarm. The value is returned to the caller only; it is
 * never logged or stored in config objects or the session's config snapshot.
 *
 * @module
 */
import { ConfigError } from "../device/errors.ts";
import type { SecretSource } from "./notify_config.ts";

/**
 * Returns the secret (a file's trailing newline removed); throws {@linkcode ConfigError} naming
 * `key` (the config key that names the variable or file) when it is unset or unreadable.
 *
 * @example
 * ```ts
 * import { readSecret } from "./secret.ts";
 * Deno.env.set("EXAMPLE_SMTP_PASSWORD", "s3cret");
 * readSecret({ env: "EXAMPLE_SMTP_PASSWORD" }, "lab.toml", "notify.smtp.password_env"); // "s3cret"
 * ```
 */
export function readSecret(source: SecretSource, file: string | undefined, key: string): string {
  if ("env" in source) {
    const value = Deno.env.get(source.env);
    if (value === undefined || value === "") {
      throw new ConfigError(
        `environment variable ${source.env} is not set; export it before starting labwire`,
        file,
        key,
      );
    }
    return value;
  }
  try {
    return Deno.readTextFileSync(source.file).replace(/\r?\n$/, "");
  } catch (err) {
    throw new ConfigError(
      `cannot read ${source.file}: ${(err as Error).message}`,
      file,
      key,
      { cause: err },
    );
  }
}
