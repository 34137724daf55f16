/**
 * Interop tests need independent peers (the reference EPICS build, Chromium, Prometheus, an SMTP
 * server, …). Without a peer a test is skipped with a message naming it, so `deno task test`
 * passes on a bare machine; with `LABWIRE_REQUIRE_PEERS=1` (set by `.ci/run` after installing
 * every peer) a missing peer fails the test instead.
 *
 * @module
 */

/** True when `.ci/run` (or the user) demands every peer be present. */
export const PEERS_REQUIRED = Deno.env.get("LABWIRE_REQUIRE_PEERS") === "1";

/** Where `../shared/peers/epics-base.sh` puts the reference EPICS programs. */
export const EPICS_BIN = Deno.env.get("EPICS_BIN") ??
  "/var/cache/labwire-peers/epics-base/base/bin/linux-x86_64";

/** Returns the full path of a program on PATH (or in `extraDirs`), or undefined. */
export function findProgram(name: string, extraDirs: string[] = []): string | undefined {
  if (name.includes("/")) return exists(name) ? name : undefined;
  const dirs = [...extraDirs, ...(Deno.env.get("PATH") ?? "").split(":")];
  for (const dir of dirs) {
    if (dir && exists(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/**
 * The Python that has Debian's packages (python3-aiosmtpd, python3-pyepics): /usr/bin/python3
 * first, since a pyenv or venv python3 earlier on PATH does not see them.
 */
export function debianPython(): string | undefined {
  return findProgram("/usr/bin/python3") ?? findProgram("python3");
}

/** Returns true when a Python module can be imported by Debian's python3 (e.g. `aiosmtpd`, `epics`). */
export function hasPythonModule(module: string): boolean {
  const python = debianPython();
  if (!python) return false;
  const out = new Deno.Command(python, {
    args: ["-c", `import ${module}`],
    stdout: "null",
    stderr: "null",
  }).outputSync();
  return out.success;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Declares a test that needs peers: `missing` returns the names of absent peers. Absent peers
 * skip the test (with a message) unless peers are required, in which case the test fails.
 */
export function peerTest(
  name: string,
  missing: () => string[],
  fn: (t: Deno.TestContext) => Promise<void> | void,
  options: Partial<Deno.TestDefinition> = {},
): void {
  const absent = missing();
  if (absent.length > 0 && !PEERS_REQUIRED) {
    console.error(`skipping "${name}": peer not installed: ${absent.join(", ")}`);
    Deno.test({
      ...options,
      name: `${name} (skipped: needs ${absent.join(", ")})`,
      ignore: true,
      fn,
    });
    return;
  }
  Deno.test({
    ...options,
    name,
    fn: async (t) => {
      if (absent.length > 0) {
        throw new Error(`peer not installed: ${absent.join(", ")} (LABWIRE_REQUIRE_PEERS=1)`);
      }
      await fn(t);
    },
  });
}

/**
 * Starts the EPICS CA repeater as a detached daemon if none runs yet. The reference CA tools
 * spawn one themselves when it is missing, and that child inherits their stdout: a test reading
 * a tool's output would then wait forever for a pipe the repeater keeps open. One repeater per
 * host is normal EPICS practice, so it is left running.
 */
export async function ensureCaRepeater(): Promise<void> {
  const repeater = findProgram("caRepeater", [EPICS_BIN]);
  if (!repeater) return;
  const probe = await new Deno.Command("bash", {
    args: [
      "-c",
      `pgrep -x caRepeater >/dev/null || setsid -f "${repeater}" </dev/null >/dev/null 2>&1`,
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!probe.success) throw new Error("could not start caRepeater");
  // Give it a moment to bind UDP 5065 before the first client looks for it.
  await new Promise((r) => setTimeout(r, 200));
}

/** What a peer program printed. */
export interface ToolResult {
  /** Exit code (or 124 when it was killed at its timeout). */
  code: number;
  /** Standard output. */
  out: string;
  /** Standard error. */
  err: string;
}

/**
 * Runs a peer program to completion, killing it after `timeoutMs`. Unlike
 * `Deno.Command.output()`, it does not wait for pipes that a daemon the program started
 * (libca's caRepeater) keeps open: once the program has exited, its output is taken as is.
 */
export async function runTool(
  program: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ToolResult> {
  const child = new Deno.Command(program, {
    args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const collect = (stream: ReadableStream<Uint8Array>) => {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const done = (async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
      }
    })();
    // the stream may already be closed; cancelling is best effort
    return { done, cancel: () => reader.cancel().catch(() => {}), text: () => text };
  };
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 20_000);
  const status = await child.status;
  clearTimeout(timer);
  // The program has exited: wait briefly for the pipes to drain, then stop reading.
  const drained = Promise.all([out.done, err.done]);
  await Promise.race([drained, new Promise((r) => setTimeout(r, 200))]);
  await out.cancel();
  await err.cancel();
  // the peer loop ends with the test; how it ended is not what the test checks
  await drained.catch(() => {});
  return { code: timedOut ? 124 : status.code, out: out.text(), err: err.text() };
}
