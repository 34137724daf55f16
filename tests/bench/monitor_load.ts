/**
 * Load benchmark: a real `labwire monitor` process recording 200 `sim://bank?channels=10`
 * devices at 10 Hz (20,000 samples/s) for 120 s, NDJSON to /dev/null. Reports missed
 * deadlines and p99 tick lateness (from monitor's closing summary line), CPU (from
 * /proc/PID/stat) and RSS (from /proc/PID/status) after the first 10 s.
 * Targets: 0 missed, p99 ≤ 5 ms, CPU ≤ 0.5 core, RSS growth ≤ 5 MB after 10 s.
 *
 *   deno run -A tests/bench/monitor_load.ts [SECONDS] [DEVICES]
 *
 * Environment: LOAD_V8_FLAGS (e.g. `--max-semi-space-size=2`) passes V8 flags to the monitor;
 * LOAD_CPU_PROF=DIR writes a CPU profile of the monitor there.
 *
 * @module
 */
import { SessionReader } from "../../lib/session/reader.ts";
import { cpuSeconds, memoryMb } from "./proc_stats.ts";
import { Targets } from "./targets.ts";

const SECONDS = Number(Deno.args[0] ?? 120);
const DEVICES = Number(Deno.args[1] ?? 200);
const ROOT = new URL("../../", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "labwire-load-" });
const config = `${dir}/load.toml`;
let toml = "";
for (let i = 0; i < DEVICES; i++) {
  toml +=
    `[devices.bank${i}]\naddress = "sim://bank?channels=10&seed=${i}"\ninterval = "100ms"\n\n`;
}
await Deno.writeTextFile(config, toml);
const session = `${dir}/load.session.sqlite`;

const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    ...(Deno.env.get("LOAD_V8_FLAGS") ? [`--v8-flags=${Deno.env.get("LOAD_V8_FLAGS")}`] : []),
    ...(Deno.env.get("LOAD_CPU_PROF")
      ? ["--cpu-prof", `--cpu-prof-dir=${Deno.env.get("LOAD_CPU_PROF")}`]
      : []),
    `${ROOT}main.ts`,
    "monitor",
    config,
    "--session",
    session,
    "--duration",
    `${SECONDS}s`,
  ],
  cwd: dir,
  stdin: "null",
  stdout: "null",
  stderr: "piped",
}).spawn();
const pid = child.pid;

const rss: { t: number; mb: number }[] = [];
let cpuAt10: number | undefined;
let wallAt10: number | undefined;
let cpuLast = 0;
let wallLast = 0;
const startWall = performance.now();
const poll = setInterval(() => {
  try {
    const t = (performance.now() - startWall) / 1000;
    rss.push({ t, mb: memoryMb(pid).rss });
    cpuLast = cpuSeconds(pid);
    wallLast = t;
    if (cpuAt10 === undefined && t >= 10) {
      cpuAt10 = cpuLast;
      wallAt10 = t;
    }
  } catch {
    // The process has exited.
  }
}, 1000);
const stderr = await new Response(child.stderr).text();
const status = await child.status;
clearInterval(poll);

const summary = stderr.trim().split("\n").at(-1) ?? "";
const readings = /(\d+) readings/.exec(summary)?.[1];
const missed = /(\d+) missed deadlines/.exec(summary)?.[1];
const p99 = /lateness p99 ([\d.]+) ms/.exec(summary)?.[1];
// A sample taken as the process exits has no VmRSS (NaN): only real figures count.
const after10 = rss.filter((r) => r.t >= 10 && Number.isFinite(r.mb));
const base = after10[0]?.mb ?? NaN;
const peak = Math.max(...after10.map((r) => r.mb));
const last = after10.at(-1)?.mb ?? NaN;
const reader = SessionReader.open(session);
const stored = reader.attrs().reduce((n, a) => n + a.count, 0);
const bytes = Deno.statSync(session).size;
reader.close();
await Deno.remove(dir, { recursive: true });

const steadyCpu = cpuAt10 !== undefined ? (cpuLast - cpuAt10) / (wallLast - wallAt10!) : NaN;
console.log(
  `load: ${DEVICES} × sim://bank?channels=10 at 10 Hz for ${SECONDS} s (exit ${status.code})${
    Deno.env.get("LOAD_V8_FLAGS") ? `, --v8-flags=${Deno.env.get("LOAD_V8_FLAGS")}` : ""
  }`,
);
console.log(
  `load readings: ${readings}; samples stored: ${stored} (${
    (stored / SECONDS).toFixed(0)
  }/s); file ${(bytes / 1e6).toFixed(1)} MB`,
);
console.log(`load missed deadlines: ${missed} (target 0)`);
console.log(`load p99 tick lateness: ${p99} ms (target ≤ 5 ms)`);
console.log(`load CPU after 10 s: ${steadyCpu.toFixed(3)} core (target ≤ 0.5)`);
console.log(
  `load RSS at 10 s: ${base.toFixed(1)} MB, peak after: ${peak.toFixed(1)} MB, at end: ${
    last.toFixed(1)
  } MB, growth ${(peak - base).toFixed(1)} MB (target ≤ 5 MB)`,
);
console.log(
  `load RSS every 10 s (MB): ${
    rss.filter((_, i) => i % 10 === 9).map((r) => r.mb.toFixed(0)).join(" ")
  }`,
);
console.log(`load monitor summary: ${summary}`);
const targets = new Targets("monitor");
targets.require("monitor exit code", status.code === 0, String(status.code), "0");
targets.check("missed deadlines", Number(missed ?? NaN), "<=", 0);
targets.check("p99 tick lateness", Number(p99 ?? NaN), "<=", 5, "ms");
targets.check("CPU after 10 s", steadyCpu, "<=", 0.5, "cores");
targets.check("RSS growth after 10 s", peak - base, "<=", 5, "MB");
targets.finish();
