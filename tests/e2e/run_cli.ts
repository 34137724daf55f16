/**
 * Runs labwire as a real process (`deno run -A main.ts …`) for end-to-end tests.
 *
 * @module
 */

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The words of `ascan motor.position FROM TO POINTS -d DETECTORS`: the step scan of the sim
 * motor that most scan tests run.
 */
export function ascan(
  from: number,
  to: number,
  points: number,
  detectors = "det.counts",
): string[] {
  return ["ascan", "motor.position", String(from), String(to), String(points), "-d", detectors];
}

/**
 * The words of `dscan motor.position FROM TO POINTS -d DETECTORS`: {@linkcode ascan} relative
 * to where the motor is when the scan starts.
 */
export function dscan(
  from: number,
  to: number,
  points: number,
  detectors = "det.counts",
): string[] {
  return ["dscan", ...ascan(from, to, points, detectors).slice(1)];
}

/** What a finished labwire process produced. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `labwire ARGS…` to completion with stdout and stderr captured (not a terminal). */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, ...args],
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd ?? ROOT,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Runs `labwire ARGS…` to completion with stdout on a pseudo-terminal (util-linux `script`), as a
 * person at a terminal runs it: what a verb prints for people (tables), not for a pipe. The
 * terminal's line ends come back as `\n`; stderr is captured on its own.
 */
export async function runCliOnTerminal(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-tty-" });
  try {
    const quote = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;
    const words = [Deno.execPath(), "run", "-A", `${ROOT}main.ts`, ...args].map(quote);
    const command = `${words.join(" ")} 2>${quote(`${dir}/stderr`)}`;
    const out = await new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      env: { NO_COLOR: "1", ...options.env },
      cwd: options.cwd ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).replaceAll("\r\n", "\n");
    return { code: out.code, stdout, stderr: await Deno.readTextFile(`${dir}/stderr`) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `labwire scan ascan POSITIONER FROM TO POINTS -d DETECTORS --config CONFIG --no-session`
 * and then `extra` (e.g. `--json`): a step scan over a config file's devices that writes no session.
 */
export function runConfigAscan(
  config: string,
  positioner: string,
  [from, to, points]: [number, number, number],
  detectors: string,
  ...extra: string[]
): Promise<CliResult> {
  return runCli([
    "scan",
    "ascan",
    positioner,
    String(from),
    String(to),
    String(points),
    "-d",
    detectors,
    "--config",
    config,
    "--no-session",
    ...extra,
  ]);
}

/** Runs `labwire monitor --config CONFIG --duration DURATION --session SESSION --json`. */
export function runConfigMonitor(
  config: string,
  duration: string,
  session: string,
): Promise<CliResult> {
  return runCli([
    "monitor",
    "--config",
    config,
    "--duration",
    duration,
    "--session",
    session,
    "--json",
  ]);
}

/** The JSON value of each line of a command's NDJSON output. */
export function ndjsonRows(
  stdout: string,
  // deno-lint-ignore no-explicit-any -- the tests index the rows by the attribute names they expect
): Record<string, any>[] {
  return stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
}

/** What {@linkcode interruptAfterLines} saw: the exit, stderr, lines printed and whether it hung. */
export interface InterruptResult extends Omit<CliResult, "stdout"> {
  /** Lines on stdout, in all. */
  lines: number;
  /** Whether SIGINT was sent (the process printed enough lines first). */
  sent: boolean;
  /** Whether the process ignored SIGINT until the hang guard killed it. */
  hung: boolean;
}

/**
 * Runs `labwire ARGS…`, sends SIGINT once it has printed `lines` lines (Ctrl-C), and waits for it
 * to end; `guardMs` after the signal it is killed (a hang guard, not a timing figure).
 */
export async function interruptAfterLines(
  args: string[],
  options: { cwd?: string; lines: number; guardMs: number },
): Promise<InterruptResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, ...args],
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let lines = 0;
  let sent = false;
  let hung = false;
  let guard: ReturnType<typeof setTimeout> | undefined;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    lines += value.split("\n").length - 1;
    if (!sent && lines >= options.lines) {
      sent = true;
      child.kill("SIGINT");
      guard = setTimeout(() => {
        hung = true;
        child.kill("SIGKILL");
      }, options.guardMs);
    }
  }
  const status = await child.status;
  clearTimeout(guard);
  return { code: status.code, stderr: await stderr, lines, sent, hung };
}

/** Runs a shell pipeline (`bash -c`) with `labwire` meaning this checkout's main.ts. */
export async function runShell(
  script: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const labwire = `${Deno.execPath()} run -A ${ROOT}main.ts`;
  const out = await new Deno.Command("bash", {
    args: ["-c", `set -o pipefail; labwire() { ${labwire} "$@"; }; ${script}`],
    env: { NO_COLOR: "1", ...env },
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Returns a loopback TCP port that nothing listens on (bound, then released). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A small bench of sim devices at 50–100 ms intervals, for monitor and session tests. */
export const SIM_BENCH_CONFIG = `
[devices.dmm]
address = "sim://dmm?seed=4"
interval = "50ms"

[devices.thermo]
address = "sim://thermo?seed=2"
interval = "50ms"

[devices.gauge]
address = "sim://gauge?seed=1"
interval = "100ms"
`;

/** Writes {@linkcode SIM_BENCH_CONFIG} as bench.toml in a new temp dir; returns its paths. */
export async function simBenchDir(
  prefix: string,
): Promise<{ dir: string; config: string; session: string }> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.writeTextFile(`${dir}/bench.toml`, SIM_BENCH_CONFIG);
  return { dir, config: `${dir}/bench.toml`, session: `${dir}/bench.session.sqlite` };
}

/** Starts `labwire sim ARGS` and resolves with its stdout lines (addresses) once printed. */
export async function spawnSim(args: string[], lines = 1) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, "sim", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (buf.split("\n").length <= lines) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  const stderr = new Response(child.stderr).text();
  return {
    addresses: buf.trimEnd().split("\n"),
    /** The simulator's process id (benchmarks read its CPU time). */
    pid: child.pid,
    async stop(): Promise<string> {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
      return await stderr;
    },
  };
}
