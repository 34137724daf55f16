/**
 * `deno task bench` — runs labwire's benchmarks one after another and prints their figures.
 * Each benchmark is its own script (they start servers, simulators and reference tools as
 * separate processes); pass names to run some of them:
 *
 *   deno task bench                 # all of them (about 15 minutes)
 *   deno task bench fanout scan     # only these
 *
 * @module
 */

/** A benchmark: its script and arguments, and the issue whose figures it measures. */
interface Bench {
  /** Short name used on the command line. */
  name: string;
  /** Script under tests/bench/. */
  script: string;
  /** Arguments. */
  args: string[];
  /** What it measures. */
  about: string;
  /** Extra environment. */
  env?: Record<string, string>;
}

const BENCHES: Bench[] = [
  {
    name: "fanout",
    script: "fanout.ts",
    args: ["--v8-flags=--max-semi-space-size=2"],
    about: "stream of 1,000 simulated gauges at 500 ms; cold start of read",
  },
  { name: "ingest", script: "ingest.ts", args: [], about: "session writer vs raw node:sqlite" },
  {
    name: "monitor",
    script: "monitor_load.ts",
    args: [],
    // Measured as shipped: `deno task compile` bakes this V8 flag into the binary.
    env: { LOAD_V8_FLAGS: "--max-semi-space-size=2" },
    about: "monitor of 200 devices × 10 attrs at 10 Hz",
  },
  { name: "alarms", script: "alarm_observe.ts", args: [], about: "alarm engine cost per reading" },
  { name: "scan", script: "scan.ts", args: [], about: "scan engine overhead per point" },
  {
    name: "serve",
    script: "serve_throughput.ts",
    args: [],
    about: "wrk on GET /api/devices/{name} vs bare Deno.serve",
  },
  {
    name: "sse",
    script: "serve_sse.ts",
    args: [],
    about: "200 SSE clients × 100 devices at 10 Hz",
  },
  { name: "samples", script: "serve_samples.ts", args: [], about: "/api/samples over a week" },
  { name: "dashboard", script: "serve_dashboard.ts", args: [], about: "chart redraw, 100k points" },
  { name: "ca-client", script: "ca_client.ts", args: [], about: "ca:// vs caget, camonitor CPU" },
  { name: "ca-server", script: "ca_server.ts", args: [], about: "camonitor on 1,000 labwire PVs" },
];

const wanted = Deno.args.length ? Deno.args : BENCHES.map((b) => b.name);
const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
if (unknown.length) {
  console.error(
    `unknown benchmark: ${unknown.join(", ")}; known: ${BENCHES.map((b) => b.name).join(", ")}`,
  );
  Deno.exit(2);
}
let failed = 0;
for (const b of BENCHES.filter((x) => wanted.includes(x.name))) {
  console.log(`\n## ${b.name}: ${b.about}`);
  const script = new URL(`./${b.script}`, import.meta.url).pathname;
  const args = [script, ...b.args];
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env: b.env,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    failed++;
    console.log(`(${b.name} exited with ${status.code})`);
  }
}
Deno.exit(failed ? 1 : 0);
