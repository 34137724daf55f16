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
export function spawnLabwire(
  args: string[],
  v8Flags = "",
  stderr: "piped" | "null" = "piped",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []), `${ROOT}main.ts`, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr,
  }).spawn();
}

/** Simulators started by {@linkcode startSimulators}. */
export interface BenchSims {
  /** The `labwire sim` process. */
  process: Deno.ChildProcess;
  /** Its stdout after the addresses (cancel it when done). */
  out: ReadableStreamDefaultReader<string>;
  /** One address per simulated device. */
  addresses: string[];
}

/**
 * Starts `labwire ARGS` (a `sim` command, stderr dropped) and waits for the `count` addresses
 * it prints; fewer is an error (and the simulator is stopped).
 */
export async function startSimulators(args: string[], count: number): Promise<BenchSims> {
  const process = spawnLabwire(args, "", "null");
  const out = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const addresses = await readLines(out, count);
  if (addresses.length !== count) {
    process.kill("SIGTERM");
    await process.status;
    throw new Error(`simulator printed ${addresses.length} addresses, not ${count}`);
  }
  return { process, out, addresses };
}

/** Starts `labwire sim baratron` with `count` gauges answering after `latency` (e.g. "20ms"). */
export function startBaratronSims(count: number, latency: string): Promise<BenchSims> {
  return startSimulators(
    ["sim", "baratron", "--listen", "127.0.0.1:0", "--count", String(count), "--latency", latency],
    count,
  );
}

/**
 * Starts a benchmark's own poller (`script --poller ARGS` under this Deno, with `v8Flags` if
 * given), hands it `addresses` on stdin, one a line, and waits for its `ready` line; its stdout
 * reader then gives the line of figures it ends with.
 */
export async function startPoller(
  script: string,
  args: string[],
  addresses: string[],
  v8Flags = "",
): Promise<{ process: Deno.ChildProcess; out: ReadableStreamDefaultReader<string> }> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []), script, "--poller", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = process.stdin.getWriter();
  await writer.write(new TextEncoder().encode(addresses.join("\n") + "\n"));
  await writer.close();
  const out = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const ready = await readLines(out, 1);
  if (ready[0] !== "ready") throw new Error(`poller said ${ready[0]}`);
  return { process, out };
}

/**
 * The `parseArgs` options every simulated-gauge fleet bench takes: `--gauges` (how many),
 * `--seconds` (how long it streams) and `--latency` (how long each gauge takes to answer),
 * with this bench's defaults.
 */
export function gaugeFleetFlags(defaults: { gauges: number; seconds: number }) {
  return {
    gauges: { type: "string", default: String(defaults.gauges) },
    seconds: { type: "string", default: String(defaults.seconds) },
    latency: { type: "string", default: "20ms" },
  } as const;
}

/** A config file's text naming every address as a device `PREFIX1`, `PREFIX2`, … */
export function devicesConfig(addresses: readonly string[], prefix: string): string {
  return addresses.map((a, i) => `[devices.${prefix}${i + 1}]\naddress = "${a}"\n`).join("\n");
}

/**
 * Writes `DIR/labwire.toml` naming every address as a device `PREFIX1`, `PREFIX2`, … and starts
 * `labwire stream --config … --interval INTERVAL --duration SECONDSs --json --stats` of them all,
 * as a lab would run it (`v8Flags` as for {@linkcode spawnLabwire}).
 */
export async function streamDevices(
  dir: string,
  addresses: readonly string[],
  prefix: string,
  timing: { interval: string; seconds: number },
  v8Flags = "",
): Promise<Deno.ChildProcess> {
  const config = `${dir}/labwire.toml`;
  await Deno.writeTextFile(config, devicesConfig(addresses, prefix));
  return spawnLabwire([
    "stream",
    "--config",
    config,
    "--interval",
    timing.interval,
    "--duration",
    `${timing.seconds}s`,
    "--json",
    "--stats",
  ], v8Flags);
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

/**
 * A text stream read one line at a time: what arrives after a line (a child may print two lines
 * in one write) is kept for the next call, not dropped as {@linkcode readLines} would.
 */
export class LineReader {
  #buf = "";
  /** Reads lines from `reader`. */
  constructor(readonly reader: ReadableStreamDefaultReader<string>) {}

  /** The next line without its newline; undefined once the stream ended (a last unended line too). */
  async next(): Promise<string | undefined> {
    for (;;) {
      const i = this.#buf.indexOf("\n");
      if (i >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        return line;
      }
      const { value, done } = await this.reader.read();
      if (done) {
        const rest = this.#buf;
        this.#buf = "";
        return rest === "" ? undefined : rest;
      }
      this.#buf += value;
    }
  }
}

/** Calls `onLine` with every line `stdout` carries (without its newline), until it ends. */
export async function eachLine(
  stdout: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buf = "";
  for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line);
    }
  }
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
