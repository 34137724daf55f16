/**
 * Shared setup of the serve benchmarks: a bench of N sim gauges at an interval, `labwire serve`
 * as a child process, and reading its figures.
 *
 * @module
 */

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
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...denoFlags, main, "serve", "--listen", "127.0.0.1:0", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let url: string | undefined;
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve did not start:\n${buf}`);
    buf += value;
    url = /serving .* on (https?:\/\/[^\s,]+)/.exec(buf)?.[1];
  }
  const drain = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      // Kept (bounded): the last lines say how the daemon stopped.
      buf = (buf + value).slice(-64 * 1024);
    }
  })();
  return {
    url,
    pid: child.pid,
    stderr: () => buf,
    async stop() {
      child.kill("SIGTERM");
      const s = await child.status;
      await drain;
      return s.code;
    },
  };
}

/** Reads one un-labelled metric from a /metrics page. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}
