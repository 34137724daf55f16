/**
 * End-to-end tests of the beamline behaviour of `labwire scan` (issue 14): each positioner's own
 * read-back, peak statistics, `--goto`, `lup`, suspenders, baseline, `--set` and detector
 * triggers — as real `labwire scan` processes on `sim://` devices.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { listScans } from "../../lib/session/scan_store.ts";
import { ascan, ROOT, runCli } from "./run_cli.ts";
import { startTestDaemon, until } from "./serve_fixture.ts";
import { benchToml, SIM } from "../fixtures/sim_bench.ts";

const SERVE_BENCH = benchToml({ motor: "sim://motor?seed=3&velocity=1000", det: SIM.det }, "250ms");

/** Posts a scan to a test daemon and waits until it is done; answers its final status. */
async function scanToEnd(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/api/scans`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const created = await res.json();
  assert.equal(res.status, 202, JSON.stringify(created));
  let scan: Record<string, unknown> = {};
  await until(
    async () => {
      scan = await (await fetch(`${url}/api/scans/${created.id}?limit=1`)).json();
      return scan.state === "done";
    },
    20_000,
    "the scan to finish",
  );
  return scan;
}

/** Parses NDJSON stdout into objects. */
function lines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("a2scan of two attributes of one device records each one's own read-back", async () => {
  const r = await runCli([
    "scan",
    "--no-session",
    "--devices",
    "sim://motor?velocity=1000",
    "a2scan",
    "motor.position",
    "0",
    "1",
    "motor.velocity",
    "500",
    "1000",
    "3",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const pts = lines(r.stdout);
  assert.deepEqual(pts.map((p) => p["motor.position"]), [0, 0.5, 1]);
  // the velocity's read-back is the velocity, not the motor's position read-back
  assert.deepEqual(pts.map((p) => p["motor.velocity"]), [500, 750, 1000]);
});

Deno.test("lup is dscan; peak statistics are printed and stored; --goto cen stays at the centre", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-beamline-" });
  try {
    const session = `${dir}/s.sqlite`;
    const r = await runCli([
      "scan",
      "--devices",
      "sim://motor?velocity=1000,sim://det?seed=5",
      "--session",
      session,
      "lup",
      "motor.position",
      "0",
      "10",
      "41",
      "-d",
      "det.counts",
      "--goto",
      "cen",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lines(r.stdout).length, 41);
    const m =
      /det\.counts: peak (\d+) at motor\.position = ([\d.]+), cen ([\d.]+), fwhm ([\d.]+), com ([\d.]+) \(41 points\)/
        .exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.ok(Math.abs(Number(m[3]) - 5) < 0.1, `cen ${m[3]}`);
    // a relative scan with --goto stays at the statistic instead of returning to its start
    assert.match(r.stderr, new RegExp(`moved motor\\.position to the cen: ${m[3]}\n`));
    // stored with the scan, and shown by session info --json
    const db = new DatabaseSync(session, { readOnly: true });
    try {
      const [scan] = listScans(db);
      const stats = scan!.stats!["det.counts"] as Record<string, number>;
      assert.equal(stats.cen!.toFixed(3), m[3]);
      assert.equal(stats.positioner as unknown, "motor.position");
      assert.ok(stats.fwhm! > 1 && stats.fwhm! < 4, `fwhm ${stats.fwhm}`);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad --goto and lup words are usage errors (exit 2)", async () => {
  const bad = await runCli([
    "scan",
    "--demo",
    ...ascan(0, 1, 3),
    "--goto",
    "middle",
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--goto: expected one of peak, cen, com, got "middle"/);
  const words = await runCli(["scan", "--demo", "lup", "motor.position", "0", "1"]);
  assert.equal(words.code, 2);
  assert.match(words.stderr, /lup: expected lup POS START STOP/);
});

Deno.test("POST /api/scans with goto: the scan answers its peak statistics and leaves the motor there", async () => {
  const d = await startTestDaemon({ bench: SERVE_BENCH });
  try {
    const scan = await scanToEnd(d.url, {
      plan: {
        kind: "line",
        relative: true,
        axes: [{ positioner: "motor.position", start: 0, stop: 10 }],
        num: 41,
      },
      detectors: ["det.counts"],
      goto: "com",
    });
    const stats = (scan.stats as Record<string, Record<string, number>>)["det.counts"]!;
    assert.ok(Math.abs(stats.com! - 5) < 0.2, `com ${stats.com}`);
    assert.ok(Math.abs(stats.peak_position! - 5) <= 0.5);
    assert.deepEqual(scan.moved_to, {
      positioner: "motor.position",
      target: "com",
      position: stats.com,
    });
    assert.equal(scan.returned, undefined, "a relative scan with goto does not return");
    const motor = await (await fetch(`${d.url}/api/devices/motor/read?attrs=position`)).json();
    assert.equal(motor.position, stats.com);
    const bad = await fetch(`${d.url}/api/scans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ plan: { kind: "count", num: 2 }, detectors: [], goto: "top" }),
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  } finally {
    await d.close();
  }
});

const SUSPEND_BENCH = `
[devices.motor]
address = "sim://motor?velocity=1000"

[devices.det]
address = "sim://det?seed=5&motor=motor"
interval = "50ms"

[[alarms]]
name = "det_high"
device = "det"
attr = "counts"
compare = ">"
trip = 500
`;

Deno.test("--suspend-on: the scan pauses while the alarm is active; Ctrl-C then stops it with its points kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-suspend-" });
  try {
    await Deno.writeTextFile(`${dir}/lab.toml`, SUSPEND_BENCH);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}main.ts`,
        "scan",
        "-c",
        `${dir}/lab.toml`,
        "--no-session",
        ...ascan(0, 10, 21),
        "--suspend-on",
        "det_high",
        "--resume-after",
        "200ms",
        // each point waits at its position while det is sampled (every 50 ms) at least twice
        "--settle",
        "150ms",
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // the alarm (counts > 500 near the peak at 5) never clears while the motor waits there
    const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let stderr = "";
    while (!/suspended before point/.test(stderr)) {
      const { value, done } = await err.read();
      if (done) break;
      stderr += value;
    }
    assert.match(
      stderr,
      /suspended before point \d+ by det_high: det\.counts = \d+, > 500; resuming 0\.2 s after it clears/,
    );
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await err.read();
      if (done) break;
      stderr += value;
    }
    const out = await new Response(child.stdout).text();
    const { code } = await child.status;
    assert.equal(code, 130, stderr);
    const pts = lines(out);
    assert.ok(pts.length > 0 && pts.length < 21, `${pts.length} points kept`);
    assert.match(stderr, /stopped: \d+ of 21 points kept/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--suspend-on, --set and --baseline mistakes are usage errors (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-suspend-" });
  try {
    await Deno.writeTextFile(`${dir}/lab.toml`, SUSPEND_BENCH);
    const base = ["scan", "-c", `${dir}/lab.toml`, "--no-session", "ascan", "motor.position"];
    const cases: [string[], RegExp][] = [
      [
        ["0", "1", "2", "-d", "det.counts", "--suspend-on", "det_hgh"],
        /no alarm "det_hgh"; alarms: det_high/,
      ],
      [
        ["0", "1", "2", "-d", "det.counts", "--resume-after", "1s"],
        /--resume-after applies with --suspend-on/,
      ],
      [
        ["0", "1", "2", "-d", "det.counts", "--set", "motor.velocity"],
        /--set: expected DEV\.ATTR=VALUE/,
      ],
      [
        ["0", "1", "2", "-d", "det.counts", "--set", "det.counts=3"],
        /--set det\.counts: det\.counts is read-only/,
      ],
      [
        ["0", "1", "2", "-d", "det.counts", "--baseline", "det.counts"],
        /--baseline: give device names/,
      ],
    ];
    for (const [words, re] of cases) {
      const r = await runCli([...base, ...words]);
      assert.equal(r.code, 2, `${words.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('a detector with trigger = "count" in the config is counted at every point of a CLI scan', async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-trigger-" });
  try {
    await Deno.writeTextFile(
      `${dir}/lab.toml`,
      `[devices.motor]\naddress = "sim://motor?velocity=1000"\n[devices.det]\naddress = "sim://det?seed=5&motor=motor"\ntrigger = "count"\ntrigger_done = "count"\n`,
    );
    const r = await runCli([
      "scan",
      "-c",
      `${dir}/lab.toml`,
      "--no-session",
      "--set",
      "det.count_time=0.2",
      ...ascan(0, 10, 11),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const counts = lines(r.stdout).map((p) => p["det.counts"] as number);
    assert.equal(counts.length, 11);
    // 0.2 s counts: about 200 at the peak (a live read with count_time 1 s would give ~1000)
    assert.ok(Math.max(...counts) > 100 && Math.max(...counts) < 300, `${counts}`);
    await Deno.writeTextFile(
      `${dir}/bad.toml`,
      `[devices.det]\naddress = "sim://det"\ntrigger_done = "count"\n`,
    );
    const cfg = await runCli(["read", "-c", `${dir}/bad.toml`, "det"]);
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /devices\.det\.trigger_done: trigger_done names what ends a trigger/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("POST /api/scans with set, baseline and suspend_on: settings restored, baseline answered and stored", async () => {
  const d = await startTestDaemon({
    bench: `${SERVE_BENCH}
[devices.thermo]
address = "sim://thermo?seed=2"
interval = "250ms"

[[alarms]]
name = "too_hot"
device = "thermo"
attr = "temperature"
compare = ">"
trip = 1000
`,
  });
  try {
    const scan = await scanToEnd(d.url, {
      plan: {
        kind: "line",
        relative: false,
        axes: [{ positioner: "motor.position", start: 0, stop: 2 }],
        num: 3,
      },
      detectors: ["det.counts"],
      set: { "motor.velocity": 500 },
      baseline: ["thermo"],
      suspend_on: ["too_hot"],
    });
    assert.deepEqual(scan.settings, { "motor.velocity": { previous: 1000, value: 500 } });
    assert.equal(scan.restored, true);
    assert.equal(scan.suspensions, 0);
    const baseline = scan.baseline as Record<
      string,
      Record<string, { values: Record<string, unknown> }>
    >;
    assert.equal(typeof baseline.start!.thermo!.values.temperature, "number");
    assert.equal(typeof baseline.end!.thermo!.values.temperature, "number");
    assert.deepEqual((scan.request as Record<string, unknown>).set, { "motor.velocity": 500 });
    const v = await (await fetch(`${d.url}/api/devices/motor/read?attrs=velocity`)).json();
    assert.equal(v.velocity, 1000, "restored");
    const db = new DatabaseSync(`${d.dir}/test.session.sqlite`, { readOnly: true });
    try {
      const stored = listScans(db).at(-1)!;
      assert.equal(
        typeof (stored.baseline as typeof baseline).end!.thermo!.values.temperature,
        "number",
      );
    } finally {
      db.close();
    }
    const bad = await fetch(`${d.url}/api/scans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        plan: { kind: "count", num: 1 },
        detectors: ["det.counts"],
        suspend_on: ["nope"],
      }),
    });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(await bad.json()), /no alarm \\"nope\\"/);
  } finally {
    await d.close();
  }
});
