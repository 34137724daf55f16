/**
 * Every example of every verb's `--help` runs, so none can rot (issue 13). Each runs in bash in a
 * sandbox holding the files the examples name (bench.toml and its session, the demo session with
 * a stopped scan, scan.toml, ~/my-instruments/psu.toml), with `labwire` meaning this checkout.
 *
 * - An example on the built-in bench, sim:// devices or those files must exit 0 — or still be
 *   running after a few seconds (stream, monitor, serve, sim and tail run until Ctrl-C), and
 *   then end with 0 or 130 on SIGINT.
 * - An example that needs hardware this machine has not got (10.0.0.7, /dev/ttyUSB0, an EPICS
 *   IOC) or a fixed port others may hold must not be a usage error: exit 2 means the example
 *   itself is wrong, while exit 1 (no answer) is what it does without the instrument.
 * Paths outside the sandbox (/etc, /data, /tmp) are rewritten into it, `sudo tee` into `tee`.
 */
import assert from "node:assert/strict";
import { VERBS } from "../../main.ts";
import { ROOT, SIM_BENCH_CONFIG } from "./run_cli.ts";

/** One example: the verb whose help shows it and the command (continuation lines joined). */
interface Example {
  verb: string;
  cmd: string;
}

/** The examples of a help text: command lines of its Examples section, `\` continuations joined. */
export function examplesOf(verb: string, help: string): Example[] {
  const at = help.search(/^Examples?:$/m);
  if (at < 0) return [];
  const out: Example[] = [];
  let pending: string | undefined;
  for (const line of help.slice(at).split("\n").slice(1)) {
    if (pending !== undefined) {
      pending += " " + line.trim().replace(/\\$/, "").trim();
      if (!line.trimEnd().endsWith("\\")) {
        out.push({ verb, cmd: pending });
        pending = undefined;
      }
      continue;
    }
    // Command lines sit two spaces in; deeper lines say what the command above does.
    if (!/^ {2}\S/.test(line) || !line.includes("labwire ")) continue;
    const text = line.trim();
    if (text.endsWith("\\")) pending = text.slice(0, -1).trim();
    else out.push({ verb, cmd: text });
  }
  return out;
}

/** Needs an instrument or a network this test cannot count on. */
const EXTERNAL = /10\.0\.0\.|192\.168\.|\/dev\/tty|ca:\/\/XXX|0\.0\.0\.0|--server http|--url http/;

/** Listens on a fixed port another program on a shared machine may hold ("in use" is fine). */
const FIXED_PORT =
  /^labwire serve --demo$|^labwire sim baratron( --timeout-rate| --listen 127\.0\.0\.1:9000|$)/;

/** Records into a session file: one at a time (a session has one writer). */
const RECORDS = /^labwire (scan|monitor|serve) /;

/** How long an example may run before it counts as a long-running one and gets Ctrl-C. */
const RUNNING_MS = 6000;

async function sandbox(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-help-examples-" });
  await Deno.mkdir(`${dir}/bin`);
  await Deno.mkdir(`${dir}/data`);
  await Deno.mkdir(`${dir}/etc`);
  await Deno.mkdir(`${dir}/my-instruments`);
  await Deno.writeTextFile(
    `${dir}/bin/labwire`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${ROOT}main.ts" "$@"\n`,
  );
  await Deno.chmod(`${dir}/bin/labwire`, 0o755);
  await Deno.writeTextFile(`${dir}/bench.toml`, SIM_BENCH_CONFIG);
  await Deno.writeTextFile(`${dir}/etc/labwire.toml`, SIM_BENCH_CONFIG);
  await Deno.writeTextFile(`${dir}/etc/token`, "0123456789abcdef0123456789abcdef\n");
  await Deno.copyFile(
    new URL("../../lib/instruments/defs/rigol-dp832.toml", import.meta.url),
    `${dir}/my-instruments/psu.toml`,
  );
  await Deno.writeTextFile(
    `${dir}/scan.toml`,
    `plan = "dscan"\nnum = 5\ndetectors = ["det.counts", "dmm.voltage"]\nsettle = "10ms"\n` +
      `[[axes]]\npositioner = "motor.position"\nstart = -1\nstop = 1\n`,
  );
  const env = {
    PATH: `${dir}/bin:${Deno.env.get("PATH")}`,
    HOME: dir,
    NO_COLOR: "1",
    TZ: "UTC",
    EPICS_CA_ADDR_LIST: "127.0.0.1",
    EPICS_CA_AUTO_ADDR_LIST: "NO",
  };
  const sh = async (script: string) => {
    const out = await new Deno.Command("bash", { args: ["-c", script], cwd: dir, env }).output();
    assert.ok(out.success, `${script}: ${new TextDecoder().decode(out.stderr)}`);
  };
  await sh(
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 " +
      "-subj /CN=localhost -keyout etc/key.pem -out etc/cert.pem 2>/dev/null",
  );
  await sh("labwire monitor bench.toml --duration 1s --quiet");
  // A scan stopped by Ctrl-C, so `scan --resume labwire-demo.session.sqlite` has one to finish.
  await sh(
    "labwire scan --demo ascan motor.position 0 10 200 -d det.counts --settle 20ms " +
      ">/dev/null 2>&1 & pid=$!; sleep 4; kill -INT $pid; wait $pid; test $? -eq 130",
  );
  return { dir, env };
}

/** Runs one example; resolves to its exit code, or "running" when it outlived {@linkcode RUNNING_MS}. */
async function run(
  cmd: string,
  dir: string,
  env: Record<string, string>,
): Promise<{ code: number | "running"; after?: number; stderr: string }> {
  const script = cmd
    .replaceAll("| sudo tee /etc/systemd/system/", "| tee ./")
    .replaceAll("/etc/labwire/labwire.toml", "./etc/labwire.toml")
    .replaceAll("/etc/labwire/token", "./etc/token")
    .replaceAll("/etc/labwire/cert.pem", "./etc/cert.pem")
    .replaceAll("/etc/labwire/key.pem", "./etc/key.pem")
    .replaceAll("/data/", "./data/")
    .replaceAll("/tmp/", "./");
  // setsid: the example's whole pipeline is one process group, interrupted together.
  const child = new Deno.Command("setsid", {
    args: ["bash", "-o", "pipefail", "-c", script],
    cwd: dir,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (s) => void (text += s) }),
  );
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outlived = new Promise<"running">((r) =>
    timer = setTimeout(() => r("running"), RUNNING_MS)
  );
  const first = await Promise.race([child.status, outlived]);
  clearTimeout(timer);
  if (first !== "running") {
    await stderr;
    return { code: first.code, stderr: text };
  }
  Deno.kill(-child.pid, "SIGINT");
  const kill = setTimeout(() => Deno.kill(-child.pid, "SIGKILL"), 10_000);
  const status = await child.status;
  clearTimeout(kill);
  await stderr;
  return { code: "running", after: status.code, stderr: text };
}

Deno.test("every example of every --help runs", async () => {
  const examples: Example[] = [];
  for (const v of VERBS) examples.push(...examplesOf(v.name, (await v.load()).help));
  assert.ok(examples.length >= 50, `found ${examples.length} examples`);
  const { dir, env } = await sandbox();
  const failures: string[] = [];
  try {
    // Three lanes at a time (the machine is shared; each example starts its own labwire); the
    // examples that record share one lane, since a session has one writer.
    const recording = examples.filter((e) => RECORDS.test(e.cmd));
    const rest = examples.filter((e) => !RECORDS.test(e.cmd));
    const lane = async (queue: Example[]) => {
      for (let ex = queue.shift(); ex; ex = queue.shift()) {
        const r = await run(ex.cmd, dir, env);
        const external = EXTERNAL.test(ex.cmd);
        const portTaken = FIXED_PORT.test(ex.cmd) && /in use/.test(r.stderr);
        // An example without its instrument may outlive RUNNING_MS on a loaded machine (a CA
        // search waits 5 s): then only a usage error (exit 2) on Ctrl-C says it is wrong.
        const ok = r.code === "running"
          ? (external ? r.after !== 2 : [0, 130].includes(r.after!))
          : external
          ? r.code !== 2
          : r.code === 0 || portTaken;
        if (!ok) {
          failures.push(
            `labwire ${ex.verb} --help: ${ex.cmd}\n  exit ${r.code}${
              r.after !== undefined ? ` (then ${r.after} on Ctrl-C)` : ""
            }: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
          );
        }
      }
    };
    await Promise.all([lane(recording), lane(rest), lane(rest)]);
    assert.deepEqual(failures, [], failures.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examplesOf joins continuation lines and skips the lines that explain", () => {
  const help = `x

Examples:
  labwire sim baratron
      one gauge on 127.0.0.1:8081; then, in another terminal:
      labwire read baratron://127.0.0.1:8081 | jq .pressure
  labwire serve --print-systemd-unit --config /etc/labwire/labwire.toml \\
    | sudo tee /etc/systemd/system/labwire.service
  curl -s localhost:8600/api/devices
`;
  assert.deepEqual(examplesOf("sim", help).map((e) => e.cmd), [
    "labwire sim baratron",
    "labwire serve --print-systemd-unit --config /etc/labwire/labwire.toml | sudo tee /etc/systemd/system/labwire.service",
  ]);
});
