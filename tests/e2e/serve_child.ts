/**
 * `labwire serve` as a child process for end-to-end tests: started on a free loopback port,
 * its stderr kept, stopped with a signal under a hang guard.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running `labwire serve` process. */
export interface ServeChild {
  /** The URL it serves. */
  url: string;
  /** The process. */
  child: Deno.ChildProcess;
  /** Its stderr lines so far. */
  lines: string[];
  /**
   * Sends `signal` and waits for the exit; kills it and throws when it has not exited within
   * `guardMs` (a hang guard, not a timing figure).
   */
  stop(signal?: Deno.Signal, guardMs?: number): Promise<Deno.CommandStatus>;
}

/** Starts `labwire serve ARGS… --listen 127.0.0.1:0`; resolves once it logs that it serves. */
export async function spawnServe(args: string[]): Promise<ServeChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--listen", "127.0.0.1:0", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`serve did not start:\n${lines.join("\n")}${buf}`);
    }
    buf += value;
    const parts = buf.split("\n");
    buf = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      url ??= /serving .* on (https?:\/\/[^\s,]+)/.exec(l)?.[1];
    }
  }
  const rest = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      lines.push(...value.split("\n").filter((l) => l !== ""));
    }
  })();
  return {
    url,
    child,
    lines,
    async stop(signal: Deno.Signal = "SIGTERM", guardMs = 10_000) {
      child.kill(signal);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const guard = new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), guardMs)));
      const status = await Promise.race([child.status, guard]);
      clearTimeout(timer);
      if (status === "hung") {
        child.kill("SIGKILL");
        await child.status;
        await rest;
        throw new Error(`serve did not exit within ${guardMs} ms of ${signal}`);
      }
      await rest;
      return status;
    },
  };
}

/** `fetch` that fails instead of waiting more than `guardMs` for the answer (a hang guard). */
export async function guardedFetch(
  url: string,
  init: RequestInit = {},
  guardMs = 10_000,
): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const t = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(guardMs) });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: res.status, body, ms: performance.now() - t };
}
