/**
 * `deno task bench` — runs labwire's benchmarks one after another, then prints one summary
 * table of every figure against its target and exits 1 if any missed (or any benchmark failed
 * to run). Each benchmark is its own script (they start servers, simulators and reference tools
 * as separate processes) that checks its figures through ./targets.ts; pass names to run some:
 *
 *   deno task bench                 # all of them (about 20 minutes)
 *   deno task bench fanout scan     # only these
 *   deno task bench ca-read-many -- --runs 9   # options after -- go to each named script
 *
 * @module
 */
import { type Figure, FIGURES_ENV } from "./targets.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";

/** A benchmark: its script and arguments, and what it measures. */
interface Bench {
  /** Short name used on the command line (and in its figures). */
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

/** Every benchmark, in the order `deno task bench` runs them. */
export const BENCHES: Bench[] = [
  {
    name: "fanout",
    script: "fanout.ts",
    args: [`--v8-flags=${SHIPPED_V8_FLAGS}`],
    about: "stream of 1,000 simulated gauges at 500 ms; cold start of read",
  },
  {
    name: "scale",
    script: "scale.ts",
    args: [],
    about: "cost per device: 10,000 gauges at 1 Hz, 1,000 at 2 Hz (simulators in other processes)",
  },
  {
    name: "baratron-poll",
    script: "baratron_poll.ts",
    args: [`--v8-flags=${SHIPPED_V8_FLAGS}`],
    about: "baratron:// driver alone polling 1,000 simulated gauges at 500 ms",
  },
  { name: "ingest", script: "ingest.ts", args: [], about: "session writer vs raw node:sqlite" },
  {
    name: "monitor",
    script: "monitor_load.ts",
    args: [],
    // Measured as shipped: `deno task compile` bakes these V8 flags into the binary.
    env: { LOAD_V8_FLAGS: SHIPPED_V8_FLAGS },
    about: "monitor of 200 devices × 10 attrs at 10 Hz",
  },
  {
    name: "sim-bank",
    script: "sim_bank.ts",
    args: [],
    about: "cost of 200 sim://bank devices (the load benchmarks' devices)",
  },
  { name: "alarms", script: "alarm_observe.ts", args: [], about: "alarm engine cost per reading" },
  { name: "scan", script: "scan.ts", args: [], about: "scan engine overhead per point" },
  {
    name: "task-queue",
    script: "task_queue.ts",
    args: [],
    about: "what the task queue adds per task start with 100 tasks queued",
  },
  {
    name: "scan-peak",
    script: "peak_stats.ts",
    args: [],
    about: "peak statistics (peak, cen, FWHM, com) of a 100,000-point scan",
  },
  {
    name: "derived",
    script: "derived.ts",
    args: [],
    about: "derived attributes: CPU per evaluation of [derived.NAME] expressions",
  },
  {
    name: "responsiveness",
    script: "responsiveness.ts",
    args: [],
    about:
      "serve: /healthz, sampling, memory and SIGTERM during a 1,000,000-point scan + 1 ms task",
  },
  {
    name: "store-faults",
    script: "store_faults.ts",
    args: [],
    about: "serve: SIGTERM with stalled SSE clients; first sample beside a hung device",
  },
  {
    name: "serve",
    script: "serve_throughput.ts",
    args: [],
    about: "wrk on routed GET endpoints vs bare Deno.serve answering same-size bodies",
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
  {
    name: "ca-read-many",
    script: "ca_read_many.ts",
    args: [],
    about: "labwire read of 1,000 ca:// targets beside caget of the same PVs (processes)",
  },
  { name: "ca-server", script: "ca_server.ts", args: [], about: "camonitor on 1,000 labwire PVs" },
  {
    name: "instruments-query",
    script: "instruments_query.ts",
    args: [],
    about:
      "10,000 MEAS:VOLT:DC? to a simulated DMM: labwire query round trips (and --window 8) vs pyvisa-py",
  },
  {
    name: "instruments-stream",
    script: "instruments_stream.ts",
    args: [],
    about: "stream of 50 SCPI DMMs (TCP, 10 Hz) and 8 Alicat units on one pty (2 Hz)",
  },
  {
    name: "modbus",
    script: "modbus.ts",
    args: [],
    about: "100 Modbus TCP controllers × 20 registers at 10 Hz; round trips vs pymodbus' client",
  },
  {
    name: "mqtt",
    script: "mqtt.ts",
    args: [],
    about:
      "serve --mqtt: 100 devices × 10 attrs at 10 Hz through mosquitto to one mosquitto_sub; " +
      "3 remote daemons × 100 devices at 10 Hz aggregated by one central daemon (labwire://)",
  },
  {
    name: "ca-flood",
    script: "ca_flood.ts",
    args: [],
    about: "serve's CA server under 20 never-finished 15 MB messages",
  },
];

/** Renders figures as one aligned table (a Markdown table, so it pastes into notes as is). */
export function summaryTable(figures: Figure[]): string {
  const head = ["bench", "figure", "measured", "target", "result"];
  const rows = figures.map((
    f,
  ) => [f.bench, f.figure, f.measured, f.target, f.ok ? "OK" : "MISSED"]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(width[i]!)).join(" | ")} |`;
  return [line(head), line(width.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Runs one benchmark; returns its figures, plus a missed one when it exited badly or said nothing. */
async function runBench(b: Bench): Promise<Figure[]> {
  const file = await Deno.makeTempFile({ prefix: `labwire-bench-${b.name}-`, suffix: ".jsonl" });
  try {
    const script = new URL(`./${b.script}`, import.meta.url).pathname;
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...b.args],
      env: { ...b.env, [FIGURES_ENV]: file },
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    const text = await Deno.readTextFile(file);
    const figures: Figure[] = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    const missed = figures.some((f) => !f.ok);
    if (!status.success && !missed) {
      figures.push({
        bench: b.name,
        figure: "script exit code",
        measured: String(status.code),
        target: "0",
        ok: false,
      });
    } else if (figures.length === 0) {
      figures.push({
        bench: b.name,
        figure: "figures reported",
        measured: "none",
        target: "at least one",
        ok: false,
      });
    }
    return figures;
  } finally {
    // cleanup: a temporary file already gone is fine
    await Deno.remove(file).catch(() => {});
  }
}

/**
 * The benchmarks named on the command line (all when none) and the options after `--`, which go
 * to each named script; a usage message when a name is unknown or an option comes before `--`.
 */
export function benchArgs(argv: readonly string[]): { names: string[]; extra: string[] } | string {
  const cut = argv.indexOf("--");
  const given = cut < 0 ? [...argv] : argv.slice(0, cut);
  const extra = cut < 0 ? [] : argv.slice(cut + 1);
  const known = BENCHES.map((b) => b.name);
  const first = given.findIndex((a) => a.startsWith("-"));
  if (first >= 0) {
    const names = given.slice(0, first);
    return `${given[first]} is a script's option: put it after --, e.g. deno task bench ` +
      `${names.length ? names.join(" ") : "ca-read-many"} -- ${given.slice(first).join(" ")}`;
  }
  const unknown = given.filter((w) => !known.includes(w));
  if (unknown.length) return `unknown benchmark: ${unknown.join(", ")}; known: ${known.join(", ")}`;
  return { names: given.length ? given : known, extra };
}

if (import.meta.main) {
  const args = benchArgs(Deno.args);
  if (typeof args === "string") {
    console.error(args);
    Deno.exit(2);
  }
  const all: Figure[] = [];
  for (const b of BENCHES.filter((x) => args.names.includes(x.name))) {
    console.log(`\n## ${b.name}: ${b.about}`);
    all.push(...await runBench({ ...b, args: [...b.args, ...args.extra] }));
  }
  const missed = all.filter((f) => !f.ok).length;
  console.log(`\n## summary\n\n${summaryTable(all)}\n`);
  console.log(
    missed
      ? `${missed} of ${all.length} figures MISSED their targets`
      : `all ${all.length} figures met their targets`,
  );
  Deno.exit(missed ? 1 : 0);
}
