/**
 * Responsiveness of `labwire serve` under a long scan (issue 9): one daemon process over sim
 * devices runs a zero-latency 1,000,000-point scan (motor → det) plus a 1 ms sampling task on
 * another device, while a client polls `/healthz` every 10 ms and the daemon samples every
 * device every 100 ms, for the whole scan (or `--window` seconds). Then SIGTERM with a scan
 * running (the measured one, or a second one 2 s in when the first has finished).
 *
 * Figures: healthz latency p50/p99 during the scan, missed sampling deadlines (sampler count
 * from /healthz), daemon RSS growth over the scan and its peak, SIGTERM-to-exit time, and that
 * the interrupted scan is stored `aborted` with its points.
 *
 * Targets (issue 9): healthz p99 ≤ 50 ms, 0 missed deadlines, RSS growth ≤ 50 MB over the scan,
 * exit ≤ 2 s after SIGTERM.
 *
 * Run: deno task bench responsiveness   (about 1–2 minutes; `--window 30` shortens the scan window)
 */
import { DatabaseSync } from "node:sqlite";
import { memoryMb, round } from "./proc_stats.ts";
import { spawnServe } from "./serve_bench_setup.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";
import { Targets } from "./targets.ts";
import { benchToml, SIM } from "../fixtures/sim_bench.ts";

const targets = new Targets("responsiveness");

const POINTS = 1_000_000;
/** Longest stretch of the scan measured before SIGTERM, s (the scan may finish sooner). */
const windowArg = Deno.args.indexOf("--window");
const WINDOW_S = windowArg >= 0 ? Number(Deno.args[windowArg + 1]) : 120;

const CONFIG = benchToml({
  motor: SIM.fastMotor,
  det: SIM.det,
  dmm: SIM.dmm,
  thermo: SIM.thermo,
  gauge: "sim://gauge?seed=1",
  bank: "sim://bank?channels=8",
}, "100ms");

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function json(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const body = await res.json();
  if (!res.ok) {
    throw new Error(`${init?.method ?? "GET"} ${url}: ${res.status} ${JSON.stringify(body)}`);
  }
  return body;
}

const dir = await Deno.makeTempDir({ prefix: "labwire-bench-responsive-" });
const session = `${dir}/bench.session.sqlite`;
await Deno.writeTextFile(`${dir}/bench.toml`, CONFIG);
// as shipped: `deno task compile` bakes these V8 flags into the binary
const serve = await spawnServe([`${dir}/bench.toml`, "--session", session], [
  `--v8-flags=${SHIPPED_V8_FLAGS}`,
]);
let exited = false;
try {
  const url = serve.url;
  // let start-up settle (first samples, attr caches) before measuring
  await new Promise((r) => setTimeout(r, 1500));
  const missedBefore = Number((await json(`${url}/healthz`)).missed_deadlines);
  const rssStart = memoryMb(serve.pid).rss;

  const scanBody = JSON.stringify({
    plan: {
      kind: "line",
      relative: false,
      axes: [{ positioner: "motor.position", start: 0, stop: 1 }],
      num: POINTS,
      spacing: "linear",
    },
    detectors: ["det.counts"],
  });
  const t0 = performance.now();
  const scan = await json(`${url}/api/scans`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: scanBody,
  });
  const postMs = performance.now() - t0;
  const id = String(scan.id);
  await json(`${url}/api/devices/dmm/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ technique: "sample", sampling_interval: 0.001, max_duration: 3600 }),
  });

  // poll /healthz every 10 ms; RSS every 250 ms; until the scan ends or the window closes
  const latencies: number[] = [];
  let rssMax = rssStart;
  let state = "running";
  let recorded = 0;
  const end = performance.now() + WINDOW_S * 1000;
  let lastStatus = 0;
  let lastRss = 0;
  let heapMin = Infinity;
  let heapMax = 0;
  while (performance.now() < end && state === "running") {
    const s = performance.now();
    const res = await fetch(`${url}/healthz`);
    await res.body?.cancel();
    latencies.push(performance.now() - s);
    if (performance.now() - lastRss >= 250) {
      lastRss = performance.now();
      const rss = memoryMb(serve.pid).rss;
      rssMax = Math.max(rssMax, rss);
    }
    if (performance.now() - lastStatus >= 1000) {
      lastStatus = performance.now();
      const st = await json(`${url}/api/scans/${id}?limit=1`);
      state = String(st.state);
      recorded = Number(st.recorded);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const heap = Number(/^labwire_heap_used_bytes (\S+)/m.exec(metrics)?.[1]) / 1048576;
      heapMin = Math.min(heapMin, heap);
      heapMax = Math.max(heapMax, heap);
    }
    const wait = 10 - (performance.now() - s);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const scanS = (performance.now() - t0) / 1000;
  const st = await json(`${url}/api/scans/${id}?limit=1`);
  state = String(st.state);
  recorded = Number(st.recorded);
  const missed = Number((await json(`${url}/healthz`)).missed_deadlines) - missedBefore;
  const task = await json(`${url}/api/tasks/t1`);
  const peak = memoryMb(serve.pid).peak;

  // SIGTERM with a scan running: the measured one, or (when it finished within the window)
  // a second one, 2 s in
  if (state !== "running") {
    await json(`${url}/api/scans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: scanBody,
    });
    await new Promise((r) => setTimeout(r, 2000));
  }
  const stopT = performance.now();
  const code = await serve.stop();
  exited = true;
  const exitS = (performance.now() - stopT) / 1000;

  const db = new DatabaseSync(session, { readOnly: true });
  const row = db.prepare(
    "SELECT state, (SELECT COUNT(*) FROM scan_points WHERE scan_id = scans.id) AS n FROM scans ORDER BY id DESC LIMIT 1",
  ).get() as { state: string; n: number } | undefined;
  db.close();

  latencies.sort((a, b) => a - b);
  console.log(
    `scan: ${recorded.toLocaleString("en-US")} of ${POINTS.toLocaleString("en-US")} points in ${
      round(scanS, 1)
    } s (${round(recorded / scanS)} points/s, POST answered in ${round(postMs)} ms, ${state} ` +
      `when measured); 1 ms task: ${task.samples} samples; ${latencies.length} healthz polls; ` +
      `daemon RSS ${round(rssStart)} MB at scan start, ${round(rssMax)} MB at most during it ` +
      `(peak ${round(peak)} MB), JS heap in use ${round(heapMin)}–${round(heapMax)} MB`,
  );
  targets.check("healthz p50 during the scan", quantile(latencies, 0.5), "<=", 50, "ms");
  targets.check("healthz p99 during the scan", quantile(latencies, 0.99), "<=", 50, "ms");
  targets.check("missed sampling deadlines (every device, 100 ms)", missed, "<=", 0);
  targets.check("daemon RSS growth over the scan", rssMax - rssStart, "<=", 50, "MB");
  targets.check("SIGTERM to exit, scan running", exitS, "<=", 2, "s");
  targets.require("daemon exit code after SIGTERM", code === 0, String(code), "0");
  targets.require(
    "scan running at SIGTERM stored aborted, points kept",
    row?.state === "aborted" && row.n > 0,
    `${row?.state ?? "no scan"}, ${row?.n ?? 0} points`,
    "aborted, > 0 points",
  );
} finally {
  // the server may already have exited; this only makes sure
  if (!exited) await serve.stop().catch(() => {});
  // cleanup: a temporary file already gone is fine
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
targets.finish();
