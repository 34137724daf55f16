/**
 * One JSON shape (issue 13, finding 5): every API answer, every event and every verb's JSON
 * output is walked, and a camelCase key anywhere fails; a reading has the same keys in `read`,
 * `stream`, `monitor`, the API and its events; a scan point the same keys in `scan` and the API.
 */
import assert from "node:assert/strict";
import { readEvents, startTestDaemon, until } from "./serve_fixture.ts";
import { ascan, runCli, simBenchDir } from "./run_cli.ts";
import { benchToml, DET_COUNTING_ALARM, SIM } from "../fixtures/sim_bench.ts";

/** Every key of `value` (recursively) that is camelCase, with where it was found. */
function camelKeys(value: unknown, where: string, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v, i) => camelKeys(v, `${where}[${i}]`, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (/[a-z][A-Z]/.test(k)) out.push(`${where}.${k}`);
      camelKeys(v, `${where}.${k}`, out);
    }
  }
  return out;
}

/** Parses one JSON document or NDJSON lines. */
function parseJson(text: string): unknown[] {
  const t = text.trim();
  if (t === "") return [];
  try {
    return [JSON.parse(t)];
  } catch {
    return t.split("\n").map((l) => JSON.parse(l));
  }
}

const BENCH = benchToml({
  motor: "sim://motor?seed=3&velocity=100",
  det: SIM.det,
  thermo: SIM.thermo,
}) + DET_COUNTING_ALARM;

const json = { "content-type": "application/json" };

Deno.test("API: no camelCase key in any answer or event; readings and points are flat", async () => {
  const d = await startTestDaemon({ bench: BENCH });
  const found: string[] = [];
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${d.url}${path}`, init);
    const body = await res.json();
    assert.ok(res.status < 500, `${path}: ${res.status} ${JSON.stringify(body)}`);
    camelKeys(body, `${init?.method ?? "GET"} ${path}`, found);
    return body;
  };
  try {
    const stream = await fetch(`${d.url}/api/stream`);
    const events = readEvents(stream.body!, 60);
    await until(() => d.lab.managers.every((m) => m.state === "up"), 10_000, "devices up");
    await get("/api/devices");
    for (const name of ["motor", "det", "thermo"]) {
      await get(`/api/devices/${name}`);
      await get(`/api/devices/${name}/read`);
      await get(`/api/devices/${name}/read?time=iso`);
    }
    await get("/api/devices/motor/attrs/position", {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ value: 1 }),
    });
    const task = await get("/api/devices/thermo/tasks", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ technique: "sample", sampling_interval: 0.05, max_duration: 5 }),
    });
    await new Promise((r) => setTimeout(r, 300));
    await get(`/api/tasks/${task.id}`);
    await get(`/api/tasks/${task.id}/data`);
    await get(`/api/tasks/${task.id}`, { method: "DELETE" });
    const scan = await get("/api/scans", {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        plan: { kind: "line", axes: [{ positioner: "motor.position", start: 0, stop: 2 }], num: 3 },
        detectors: ["det.counts"],
        settle_ms: 10,
      }),
    });
    // The request comes back as it was posted: settle_ms, never settleMs.
    assert.equal(scan.request.settle_ms, 10);
    let done: Record<string, unknown> = {};
    await until(
      async () => {
        done = await get(`/api/scans/${scan.id}`);
        return done.state === "done";
      },
      20_000,
      "the scan to finish",
    );
    await get(`/api/scans/${scan.id}?time=iso`);
    await get(`/api/samples?device=thermo&attr=temperature`);
    await get("/api/alarms");
    await get("/healthz");
    await get("/healthz?time=iso");

    const evs = await events;
    for (const e of evs) camelKeys(JSON.parse(e.data), `event ${e.event}`, found);
    assert.deepEqual(found, [], "camelCase keys in the API");

    // A reading is flat everywhere: /read, a device's last, and reading events.
    const read = await get("/api/devices/thermo/read");
    const last = (await get("/api/devices/thermo")).last;
    const event = evs.filter((e) => e.event === "reading").map((e) => JSON.parse(e.data))
      .find((r) => r.device === "thermo");
    for (const r of [read, last, event]) {
      assert.deepEqual(Object.keys(r), ["t", "device", "temperature", "setpoint", "heater"]);
    }
    const cli = parseJson((await runCli(["read", "sim://thermo?seed=2"])).stdout)[0] as object;
    assert.deepEqual(Object.keys(cli), Object.keys(read));
    const iso = await get("/api/devices/thermo/read?time=iso&utc=1");
    assert.match(iso.t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const bad = await fetch(`${d.url}/api/devices?time=unix`);
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /not one of epoch, iso/);

    // A scan point: the API's and the CLI's have the same keys.
    const points = done.points as Record<string, unknown>[];
    const line = parseJson(
      (await runCli([
        "scan",
        "--devices",
        "sim://motor?velocity=100,sim://det",
        "--no-session",
        ...ascan(0, 2, 3),
      ])).stdout,
    );
    assert.deepEqual(Object.keys(points[0]!), [
      "scan",
      "point",
      "t",
      ...Object.keys(line[0]!).slice(2),
    ]);
  } finally {
    await d.close();
  }
});

Deno.test("CLI: no camelCase key in any verb's JSON output", async () => {
  const { dir, config, session } = await simBenchDir("labwire-json-shape-");
  const found: string[] = [];
  const run = async (args: string[]) => {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    for (const doc of parseJson(r.stdout)) camelKeys(doc, args.slice(0, 2).join(" "), found);
    return r.stdout;
  };
  try {
    await run(["monitor", config, "--duration", "500ms", "--json"]);
    await run(["read", "--config", config]);
    await run(["read", "--config", config, "--describe"]);
    await run(["write", "sim://thermo", "setpoint=30"]);
    await run(["stream", "--config", config, "--count", "2", "--time", "iso"]);
    await run(["stream", "--config", config, "--count", "1", "--stats"]);
    await run([
      "scan",
      "--devices",
      "sim://motor?velocity=100,sim://det",
      "count",
      "2",
      "-d",
      "det.counts",
    ]);
    await run(["session", "info", session, "--json"]);
    await run(["session", "list", ".", "--json"]);
    await run(["session", "export", session, "--format", "ndjson"]);
    await run(["session", "export", "labwire.session.sqlite", "--scan", "1", "--format", "ndjson"]);
    await run(["instruments", "list", "--json"]);
    await run(["instruments", "show", "keysight-34461a", "--json"]);
    await run(["devices", config, "--json", "--no-server"]);
    assert.deepEqual(found, [], "camelCase keys in the CLI's JSON");

    // The same reading shape in read, stream and monitor.
    const keysOf = async (args: string[]) =>
      Object.keys(
        (parseJson(await run(args)) as Record<string, unknown>[]).find((r) =>
          r.device === "thermo"
        )!,
      );
    const read = Object.keys(
      (parseJson(await run(["read", "--config", config, "thermo"]))[0]) as object,
    );
    assert.deepEqual(await keysOf(["stream", "--config", config, "thermo", "--count", "1"]), read);
    assert.deepEqual(
      await keysOf(["monitor", config, "--duration", "300ms", "--json", "--session", "m.sqlite"]),
      read,
    );
    // write's read-back is a reading too: the keys read prints for the same attribute.
    assert.deepEqual(
      Object.keys(parseJson(await run(["write", "--config", config, "thermo", "setpoint=31"]))[0]!),
      Object.keys(
        parseJson(await run(["read", "--config", config, "thermo", "-a", "setpoint"]))[0]!,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
