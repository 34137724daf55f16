/**
 * Ctrl-C during a long zero-latency CLI scan: the scan stops after the current point, keeps its
 * data and exits 130 (it used to ignore SIGINT and run 2,000,000 points to the end, exit 0).
 * The time here is a hang guard; the figure is in `deno task bench responsiveness`.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ascan, interruptAfterLines } from "./run_cli.ts";
import { spawnLabwire } from "./labwire_process.ts";

Deno.test("scan: Ctrl-C ends a 2,000,000-point demo scan with exit 130, points kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-scan-int-" });
  try {
    const { code, stderr: err, lines, sent, hung } = await interruptAfterLines([
      "scan",
      "--demo",
      ...ascan(0, 1, 2_000_000),
    ], { cwd: dir, lines: 1000, guardMs: 10_000 });
    assert.ok(sent, `the scan printed only ${lines} points:\n${err}`);
    assert.ok(!hung, "the scan ignored Ctrl-C for 10 s");
    assert.equal(code, 130, err);
    assert.match(err, /stopped: \d+ of 2000000 points kept/);
    const db = new DatabaseSync(`${dir}/labwire-demo.session.sqlite`, { readOnly: true });
    try {
      const row = db.prepare(
        "SELECT state, (SELECT COUNT(*) FROM scan_points p WHERE p.scan_id = scans.id) AS n FROM scans",
      ).get() as { state: string; n: number };
      assert.equal(row.state, "stopped");
      assert.ok(row.n >= lines && row.n < 2_000_000, `${row.n} points stored, ${lines} printed`);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scan: Ctrl-C while the current point times out still exits 130, the scan stopped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-scan-int-" });
  const session = `${dir}/s.sqlite`;
  // The detector answers after 5 s and its calls time out after 2 s: every point fails, slowly.
  const scan = spawnLabwire([
    "scan",
    "--session",
    session,
    "--devices",
    "sim://motor,sim://det?latency=5s&timeout=2s",
    ...ascan(0, 1, 3),
  ]);
  try {
    await scan.waitFor(/scan 1: 3 points/);
    // the first point is in flight: the detector read that will time out has begun
    const code = await scan.stop("SIGINT");
    const err = scan.lines.join("\n");
    assert.equal(code, 130, err);
    assert.match(err, /point in flight when the scan was stopped failed: .*no answer within 2 s/);
    assert.match(err, /stopped: 0 of 3 points kept/);
    const db = new DatabaseSync(session, { readOnly: true });
    try {
      const rows = db.prepare("SELECT state FROM scans").all() as { state: string }[];
      assert.deepEqual(rows.map((r) => r.state), ["stopped"]);
    } finally {
      db.close();
    }
  } finally {
    if (scan.alive()) await scan.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
