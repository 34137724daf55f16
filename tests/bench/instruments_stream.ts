/**
 * Instruments stream benchmark (issue 11): `labwire stream` of 50 simulated SCPI DMMs over TCP
 * at 10 Hz and 8 Alicat units sharing one pseudo-terminal at 2 Hz (what a 19,200-baud line
 * carries), the simulators in their own processes (`labwire sim keysight-34461a --count 50`,
 * `labwire sim alicat --pty --unit A,…,H`), for 60 s. Reports expected vs received readings,
 * errors, missed deadlines, p50/p99 lateness of the sample instants, and the CPU of the labwire
 * process after start-up. Targets: 0 missed, p99 lateness ≤ 10 ms, CPU ≤ 0.1 core.
 *
 *   deno run -A tests/bench/instruments_stream.ts [--dmms 50] [--units 8] [--seconds 60]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuSeconds, round } from "./proc_stats.ts";
import { Targets } from "./targets.ts";
import { eachLine, readLines, spawnLabwire } from "./child.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dmms: { type: "string", default: "50" },
    units: { type: "string", default: "8" },
    seconds: { type: "string", default: "60" },
  },
});
const dmms = Number(values.dmms);
const units = Number(values.units);
const seconds = Number(values.seconds);
const targets = new Targets("instruments-stream");

// 1. The simulators, in their own processes.
const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".slice(0, units).split("");
const dmmSim = spawnLabwire([
  "sim",
  "keysight-34461a",
  "--listen",
  "127.0.0.1:0",
  "--count",
  String(dmms),
]);
const mfcSim = spawnLabwire(["sim", "alicat", "--pty", "--unit", letters.join(",")]);
const dmmOut = dmmSim.stdout.pipeThrough(new TextDecoderStream()).getReader();
const mfcOut = mfcSim.stdout.pipeThrough(new TextDecoderStream()).getReader();
const dmmAddresses = (await readLines(dmmOut, dmms)).filter((l) => l !== "");
const mfcAddresses = (await readLines(mfcOut, units)).filter((l) => l !== "");
if (dmmAddresses.length !== dmms || mfcAddresses.length !== units) {
  throw new Error(`simulators printed ${dmmAddresses.length} + ${mfcAddresses.length} addresses`);
}

// 2. A config as a lab would write it: the DMMs at 10 Hz, the flow controllers at 2 Hz.
const dir = await Deno.makeTempDir({ prefix: "labwire-instruments-bench-" });
const config = `${dir}/labwire.toml`;
await Deno.writeTextFile(
  config,
  dmmAddresses.map((a, i) => `[devices.dmm${i + 1}]\naddress = "${a}"\ninterval = "100ms"\n`)
    .join("\n") +
    "\n" +
    mfcAddresses.map((a, i) =>
      `[devices.mfc_${letters[i]!.toLowerCase()}]\naddress = "${a}"\ninterval = "500ms"\n`
    ).join("\n"),
);

// 3. labwire stream of every instrument, with the shipped binary's V8 flags (as users run it).
const started = performance.now();
const stream = spawnLabwire([
  "stream",
  "--config",
  config,
  "--duration",
  `${seconds}s`,
  "--json",
  "--stats",
], SHIPPED_V8_FLAGS);
const pid = stream.pid;
let lines = 0;
let errors = 0;
const firstErrors: string[] = [];
const counting = eachLine(stream.stdout, (line) => {
  if (line.includes('"error"')) {
    if (errors < 3) firstErrors.push(line);
    errors++;
  }
  lines++;
});
// CPU over the sampling period only: not Deno's start-up nor the first connections.
await new Promise((r) => setTimeout(r, 5000));
const cpu0 = cpuSeconds(pid);
const t0 = performance.now();
while (performance.now() - started < seconds * 1000 - 1000) {
  await new Promise((r) => setTimeout(r, 1000));
}
const cpu1 = cpuSeconds(pid);
const t1 = performance.now();
const stderr = new TextDecoder().decode(await new Response(stream.stderr).arrayBuffer());
const status = await stream.status;
await counting;
for (const [sim, out] of [[dmmSim, dmmOut], [mfcSim, mfcOut]] as const) {
  sim.kill("SIGTERM");
  await sim.status;
  await out.cancel();
  await sim.stderr.cancel();
}
await Deno.remove(dir, { recursive: true });

const stats = JSON.parse(stderr.trim().split("\n").at(-1)!);
const cpuCores = (cpu1 - cpu0) / ((t1 - t0) / 1000);
console.log(
  `instruments stream: ${dmms} SCPI DMMs (TCP) at 10 Hz + ${units} Alicat units on one pty at 2 Hz, ${seconds} s`,
);
console.log(`  exit code            ${status.code}`);
console.log(`  readings expected    ${stats.expected}`);
console.log(`  readings received    ${lines} (${errors} with error)`);
console.log(`  missed deadlines     ${stats.missed}`);
console.log(
  `  lateness p50 / p99   ${stats.lateness_ms.p50} ms / ${stats.lateness_ms.p99} ms (max ${stats.lateness_ms.max} ms)`,
);
console.log(`  labwire CPU          ${round(cpuCores, 3)} core`);
for (const e of firstErrors) console.log(`  error reading        ${e.slice(0, 300)}`);
targets.require("stream exit code", status.code === 0, String(status.code), "0");
targets.check("readings with error", errors, "<=", 0);
targets.check("missed deadlines", stats.missed, "<=", 0);
targets.check("p99 lateness", stats.lateness_ms.p99, "<=", 10, "ms");
targets.check("labwire CPU", round(cpuCores, 3), "<=", 0.1, "cores");
targets.finish();
