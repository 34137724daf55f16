/**
 * The error classes every layer throws. `main.ts` maps them to exit codes:
 * {@linkcode UsageError} and {@linkcode ConfigError} -> 2, {@linkcode DeviceError} -> 1.
 *
 * @module
 */

/** Options of a {@linkcode UsageError}: an `Error`'s, and the subcommand the mistake is in. */
export interface UsageErrorOptions extends ErrorOptions {
  /**
   * The verb's subcommand the message is about (`start` of `labwire task start`): `main` puts
   * it in the line's prefix, so the message does not name it again.
   */
  subcommand?: string;
}

/** A mistake on the command line or in a request: exit code 2, nothing was sent to a device. */
export class UsageError extends Error {
  /**
   * The subcommand the mistake is in (see {@linkcode UsageErrorOptions.subcommand}); a verb sets
   * it with {@linkcode inSubcommand} on an error its subcommand's work threw without one.
   */
  subcommand?: string;
  /** Creates a usage error; `hint` is a one-line suggestion such as "did you mean ...". */
  constructor(message: string, readonly hint?: string, options?: UsageErrorOptions) {
    super(message, options);
    this.name = "UsageError";
    this.subcommand = options?.subcommand;
  }
}

/** A config file that cannot be used: names the file, the key and what was expected (exit 2). */
export class ConfigError extends Error {
  /** Creates a config error for `file` at `key`. */
  constructor(
    message: string,
    readonly file?: string,
    readonly key?: string,
    options?: ErrorOptions,
  ) {
    super(file ? `${file}${key ? `: ${key}` : ""}: ${message}` : message, options);
    this.name = "ConfigError";
  }
}

/** A device that could not be reached or answered badly (exit 1). */
export class DeviceError extends Error {
  /** Creates a device error; `device` names the device or address it concerns. */
  constructor(message: string, readonly device?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DeviceError";
  }
}

/** A device call that ran out of time; a kind of {@linkcode DeviceError}. */
export class TimeoutError extends DeviceError {
  /** Creates a timeout error for a call that took longer than `ms` milliseconds. */
  constructor(message: string, device?: string, options?: ErrorOptions) {
    super(message, device, options);
    this.name = "TimeoutError";
  }
}

/** A write refused by an attribute's declaration (read-only, wrong type, out of limits): exit 2. */
export class WriteRejected extends UsageError {
  /** Creates a refusal for `attr`; nothing was sent to the device. */
  constructor(message: string, readonly attr: string, options?: ErrorOptions) {
    super(message, undefined, options);
    this.name = "WriteRejected";
  }
}

/** A name that does not exist (no such device, no such attribute): a usage error, exit 2; HTTP 404. */
export class NotFound extends UsageError {
  /** Creates the error; `hint` is e.g. a did-you-mean. */
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, hint, options);
    this.name = "NotFound";
  }
}

/**
 * Names `subcommand` on a usage error that names none (thrown by the work a verb's subcommand
 * does, in a module that does not know the verb), so `main` prefixes it `labwire VERB SUB:` as
 * the verb's own mistakes are; returns `err` for the verb to throw on.
 *
 * @example
 * ```ts
 * import { inSubcommand, UsageError } from "./errors.ts";
 * (inSubcommand(new UsageError("no session file x"), "info") as UsageError).subcommand; // "info"
 * ```
 */
export function inSubcommand(err: unknown, subcommand: string): unknown {
  if (err instanceof UsageError && err.subcommand === undefined) err.subcommand = subcommand;
  return err;
}

/** Returns the message of any thrown value, for a reading's `error` field or a log line. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
