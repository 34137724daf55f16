/**
 * A long-running labwire verb (`serve`, `monitor`) as a child process for end-to-end tests: its
 * stderr collected line by line, a wait for a line, and a bounded wait for its exit.
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

/** Starts `labwire ARGS…` with stderr collected, and stdout too when `opts.stdout` is true. */
export function spawnLabwire(
  args: string[],
  env: Record<string, string> = {},
  opts: { stdout?: boolean } = {},
): LabwireProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, ...args],
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
