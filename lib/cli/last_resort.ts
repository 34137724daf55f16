/**
 * The process-wide last resort: an unhandled promise rejection or an uncaught exception (a bug:
 * every expected failure is handled where it happens) becomes one logged error line instead of
 * the death of a daemon that drives hardware and raises alarms. The line starts with
 * "unhandled", so tests and log watchers can look for it.
 *
 * @module
 */

/** What {@linkcode installLastResort} counts. */
export interface LastResortStats {
  /** Unhandled rejections and uncaught errors seen. */
  caught: number;
}

/**
 * Installs the handlers once for the whole process; `log` receives each line (default: stderr).
 *
 * @example
 * ```ts ignore
 * installLastResort();
 * Promise.reject(new Error("bug")); // logged as "unhandled rejection: Error: bug ..."; goes on
 * ```
 */
export function installLastResort(
  log: (line: string) => void = (line) => console.error(`labwire: ${line}`),
): LastResortStats {
  const stats: LastResortStats = { caught: 0 };
  const describe = (v: unknown) =>
    v instanceof Error ? (v.stack ?? `${v.name}: ${v.message}`) : String(v);
  globalThis.addEventListener("unhandledrejection", (e: PromiseRejectionEvent) => {
    e.preventDefault();
    stats.caught++;
    log(`unhandled rejection (a bug; please report it \u2014 carrying on): ${describe(e.reason)}`);
  });
  globalThis.addEventListener("error", (e: ErrorEvent) => {
    e.preventDefault();
    stats.caught++;
    log(
      `unhandled error (a bug; please report it \u2014 carrying on): ${
        describe(e.error ?? e.message)
      }`,
    );
  });
  return stats;
}
