/**
 * The daemon's log: one line per event on stderr. Under systemd (`JOURNAL_STREAM` set) each line
 * starts with a `<N>` syslog priority so journald files it at the right level
 * (sd-daemon(3)); on a terminal the level is spelled out instead.
 *
 * @module
 */

/** Log levels with their syslog priorities. */
export const PRIORITY = { error: 3, warn: 4, notice: 5, info: 6, debug: 7 } as const;

/** A log level name. */
export type LogLevel = keyof typeof PRIORITY;

/** Something that takes log lines. */
export interface Logger {
  /** Logs `message` at `level`. */
  log(level: LogLevel, message: string): void;
}

/** Options of {@linkcode stderrLogger}. */
export interface StderrLoggerOptions {
  /** Prefix lines with `<N>` (default: whether `JOURNAL_STREAM` is set). */
  journal?: boolean;
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
  /** Lowest level shown (default "info"). */
  level?: LogLevel;
}

/**
 * Formats one log line.
 *
 * @example
 * ```ts
 * import { formatLogLine } from "./log.ts";
 * formatLogLine("warn", "gauge is down", true); // "<4>gauge is down"
 * ```
 */
export function formatLogLine(level: LogLevel, message: string, journal: boolean): string {
  const oneLine = message.replace(/\r?\n/g, " | ");
  return journal ? `<${PRIORITY[level]}>${oneLine}` : `labwire serve: ${level}: ${oneLine}`;
}

/** A logger writing to stderr, journald-aware. */
export function stderrLogger(opts: StderrLoggerOptions = {}): Logger {
  const journal = opts.journal ?? Deno.env.get("JOURNAL_STREAM") !== undefined;
  const encoder = new TextEncoder();
  const write = opts.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const min = PRIORITY[opts.level ?? "info"];
  return {
    log(level, message) {
      if (PRIORITY[level] > min) return;
      try {
        write(formatLogLine(level, message, journal));
      } catch {
        // A closed stderr must not take the daemon down.
      }
    },
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { log() {} };
