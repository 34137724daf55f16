/**
 * End-to-end tests of the beamline behaviour of `labwire scan` (issue 14): each positioner's own
 * read-back, peak statistics, `--goto`, `lup`, suspenders, baseline, `--set` and detector
 * triggers — as real `labwire scan` processes on `sim://` devices.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { listScans } from "../../lib/session/scan_store.ts";
import { runCli } from "./run_cli.ts";
import { startTestDaemon, until } from "./serve_fixture.ts";

const SERVE_BENCH = `
[devices.motor]
address = "sim://motor?seed=3&velocity=1000"
interval = "250ms"

[devices.det]
address = "sim://det?seed=5&motor=motor"
interval = "250ms"
`;

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
    "ascan",
    "motor.position",
    "0",
    "1",
    "3",
    "-d",
    "det.counts",
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
    const res = await fetch(`${d.url}/api/scans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        plan: {
          kind: "line",
          relative: true,
          axes: [{ positioner: "motor.position", start: 0, stop: 10 }],
          num: 41,
        },
        detectors: ["det.counts"],
        goto: "com",
      }),
    });
    const created = await res.json();
    assert.equal(res.status, 202, JSON.stringify(created));
    let scan: Record<string, unknown> = {};
    await until(
      async () => {
        scan = await (await fetch(`${d.url}/api/scans/${created.id}?limit=1`)).json();
        return scan.state === "done";
      },
      20_000,
      "the scan to finish",
    );
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
