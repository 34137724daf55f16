/**
 * Shared setup of the serve benchmarks: a bench of N sim gauges at an interval, `labwire serve`
 * as a child process, and reading its figures.
 *
 * @module
 */
import { metric, spawnServe as spawnServeProcess } from "../e2e/labwire_process.ts";

/** Config text of `n` sim gauges sampled every `intervalMs`. */
export function gaugeBench(n: number, intervalMs: number): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    s += `[devices.g${i}]\naddress = "sim://gauge?seed=${i + 1}"\ninterval = "${intervalMs}ms"\n\n`;
  }
  return s;
}

/** A `labwire serve` child process. */
export interface ServeProcess {
  /** Its URL. */
  url: string;
  /** Its process id (for RSS). */
  pid: number;
  /** Its stderr so far (log lines; complete once stopped). */
  stderr(): string;
  /** Stops it with SIGTERM and waits; resolves to the exit code. */
  stop(): Promise<number>;
}

/**
 * Starts `labwire serve` on a free port with `args` (and `denoFlags` for `deno run`, e.g. the
 * V8 flags `deno task compile` bakes in); resolves once it serves.
 */
export async function spawnServe(args: string[], denoFlags: string[] = []): Promise<ServeProcess> {
  const p = await spawnServeProcess(args, { denoFlags });
  return {
    url: p.url,
    pid: p.child.pid,
    // Kept (bounded): the last lines say how the daemon stopped.
    stderr: () => p.lines.join("\n").slice(-64 * 1024),
    // A loaded bench machine may take a while to stop: a generous hang guard.
    stop: () => p.stop("SIGTERM", 60_000),
  };
}

export { metric };
