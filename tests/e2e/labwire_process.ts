/**
 * A long-running labwire verb (`serve`, `monitor`) as a child process for end-to-end tests and
 * benchmarks: its stderr collected line by line, a wait for a line, and a bounded wait for its
 * exit; `labwire serve` started on a free loopback port, and requests to it under a hang guard.
 *
 * @module
 */
import { ROOT } from "./run_cli.ts";

/** A running labwire process. */
export interface LabwireProcess {
  /** The child. */
  child: Deno.ChildProcess;
  /** Every stderr line so far. */
  lines: string[];
  /** Every stdout line so far (when started with `stdout: true`). */
  out: string[];
  /** Resolves with the first stderr line matching `re` (rejects after `ms` or at exit). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Sends `signal` and resolves with the exit code, or kills it and returns null after `ms`. */
  stop(signal?: Deno.Signal, ms?: number): Promise<number | null>;
  /** Whether the process is still running. */
  alive(): boolean;
}

/**
 * Starts `labwire ARGS…` with stderr collected, and stdout too when `opts.stdout` is true;
 * `opts.denoFlags` go to `deno run` (e.g. the V8 flags `deno task compile` bakes in).
 */
export function spawnLabwire(
  args: string[],
  env: Record<string, string> = {},
  opts: { stdout?: boolean; denoFlags?: string[] } = {},
): LabwireProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...(opts.denoFlags ?? []), `${ROOT}main.ts`, ...args],
    env: { NO_COLOR: "1", ...env },
    cwd: ROOT,
    stdin: "null",
    stdout: opts.stdout ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const out: string[] = [];
  const outPump = opts.stdout
    ? (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        out.push(...parts);
      }
    })()
    : Promise.resolve();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const watchers = new Set<() => void>();
  const pump = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
      for (const w of watchers) w();
    }
    if (buf) lines.push(buf);
    for (const w of watchers) w();
  })();
  return {
    child,
    lines,
    out,
    alive: () => !exited,
    waitFor(re, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const l of lines) {
            const m = re.exec(l);
            if (m) {
              done();
              resolve(m);
              return;
            }
          }
          if (exited) {
            done();
            reject(new Error(`exited before logging ${re}:\n${lines.join("\n")}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line like ${re} within ${ms} ms:\n${lines.join("\n")}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        status.then(check);
        check();
      });
    },
    async stop(signal = "SIGTERM", ms = 15_000) {
      if (!exited) child.kill(signal);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const s = await Promise.race([
        status,
        new Promise<null>((r) => (timer = setTimeout(() => r(null), ms))),
      ]);
      clearTimeout(timer);
      if (s === null) {
        child.kill("SIGKILL");
        await status;
      }
      await pump;
      await outPump;
      return s === null ? null : s.code;
    },
  };
}

/** A `labwire serve` process and the URL it logs that it serves on. */
export interface ServeProcess extends Omit<LabwireProcess, "stop"> {
  /** `http(s)://127.0.0.1:PORT`, as its start line says it. */
  url: string;
  /**
   * Sends `signal` and resolves with the exit code; kills it and throws when it has not exited
   * within `guardMs` (a hang guard, not a timing figure).
   */
  stop(signal?: Deno.Signal, guardMs?: number): Promise<number>;
}

/**
 * Starts `labwire serve ARGS…` (on 127.0.0.1, any free port, unless ARGS say `--listen`) and
 * resolves once it logs where it serves; one that exits or hangs before is stopped and throws.
 */
export async function spawnServe(
  args: string[],
  opts: { env?: Record<string, string>; stdout?: boolean; denoFlags?: string[]; waitMs?: number } =
    {},
): Promise<ServeProcess> {
  const listen = args.includes("--listen") ? [] : ["--listen", "127.0.0.1:0"];
  const p = spawnLabwire(["serve", ...listen, ...args], opts.env, opts);
  let url: string;
  try {
    url = (await p.waitFor(/serving .* on (https?:\/\/[^\s,]+)/, opts.waitMs ?? 60_000))[1]!;
  } catch (err) {
    await p.stop("SIGKILL");
    throw err;
  }
  return {
    ...p,
    url,
    async stop(signal = "SIGTERM", guardMs = 15_000) {
      const code = await p.stop(signal, guardMs);
      if (code === null) {
        throw new Error(
          `serve did not exit within ${guardMs} ms of ${signal}:\n${p.lines.join("\n")}`,
        );
      }
      return code;
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

/**
 * Opens `n` SSE streams of the daemon at `url` that never read: once their socket buffers fill,
 * the daemon's writes to them block (clients that stopped reading). Close them when done.
 */
export async function stalledSseClients(url: URL, n: number): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i++) {
    const c = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    await c.write(new TextEncoder().encode("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    conns.push(c);
  }
  return conns;
}

/** Reads one metric (labels included in `name`, e.g. `x{a="b"}`) from the /metrics page at `url`. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}
