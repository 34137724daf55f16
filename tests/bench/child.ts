/**
 * A benchmark's child processes (simulators, pollers, reference clients): starting labwire,
 * reading the lines they print, and running one to completion for the JSON line of figures it
 * ends with.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Starts `labwire ARGS` (this checkout's main.ts under this Deno, `NO_COLOR`, output piped);
 * `v8Flags` (comma-separated) are passed as `--v8-flags=`, e.g. the shipped ones.
 */
export function spawnLabwire(args: string[], v8Flags = ""): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []), `${ROOT}main.ts`, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads from `reader` until `n` lines have arrived (or it ends); returns them. */
export async function readLines(
  reader: ReadableStreamDefaultReader<string>,
  n: number,
): Promise<string[]> {
  let buf = "";
  while (buf.split("\n").length <= n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  return buf.trimEnd().split("\n");
}

/** Runs `cmd args` to completion and parses the last line it printed as JSON. */
export async function runJson<T>(cmd: string, args: string[]): Promise<T> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
  }
  return JSON.parse(text.split("\n").at(-1)!);
}
