/**
 * End-to-end scans on `sim://` devices: in-process through the runner (the motor's position can
 * be checked afterwards), and as real `labwire scan` processes (NDJSON, exit codes, a real
 * SIGINT, `--resume`).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import "../../lib/drivers/mod.ts";
import { parseAddress } from "../../lib/device/address.ts";
import { UsageError } from "../../lib/device/errors.ts";
import { Lab } from "../../lib/lab/lab.ts";
import type { ScanRequest } from "../../lib/scan/request.ts";
import { ScanRun } from "../../lib/scan/runner.ts";
import { listScans, readScanPoints, ScanStore } from "../../lib/session/scan_store.ts";
import { findProgram, peerTest } from "../peers.ts";
import { ascan, dscan, runCli } from "./run_cli.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A sim motor that moves at 1,000 mm/s: in-process scans spend little time moving. */
const FAST_MOTOR = "sim://motor?velocity=1000";

async function simLab(motor: string): Promise<Lab> {
  const cfg = (name: string, addr: string) => ({
    name,
    address: parseAddress(addr),
    interval: 1000,
    options: {},
  });
  return await Lab.open({ devices: [], sections: {} }, [
    cfg("motor", motor),
    cfg("det", "sim://det?seed=5"),
  ]);
}

/** `det.counts` over `num` evenly spaced points of `motor.position` from `start` to `stop`. */
function motorLine(start: number, stop: number, num: number, relative = false): ScanRequest {
  return {
    plan: {
      kind: "line",
      relative,
      num,
      spacing: "linear",
      axes: [{ positioner: "motor.position", start, stop }],
    },
    detectors: ["det.counts"],
  };
}

/** {@linkcode motorLine} relative to where the motor is when the scan starts (a dscan). */
function motorRelative(start: number, stop: number, num: number): ScanRequest {
  return motorLine(start, stop, num, true);
}

/** Runs `fn` over {@linkcode simLab}`(motor)`, closed after. */
async function withSimLab(motor: string, fn: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await simLab(motor);
  try {
    await fn(lab);
  } finally {
    await lab.close();
  }
}

async function motorAt(lab: Lab): Promise<number> {
  return (await lab.get("motor").read(["readback"])).readback as number;
}

Deno.test("ascan of the sim motor finds the sim detector's peak at 5", async () => {
  await withSimLab(FAST_MOTOR, async (lab) => {
    const run = new ScanRun(lab, motorLine(0, 10, 41));
    const r = await run.start();
    assert.equal(r.state, "done");
    assert.equal(run.points.length, 41);
    const counts = run.points.map((p) => p.values[0] as number);
    const xs = run.points.map((p) => p.readbacks[0] as number);
    const best = counts.indexOf(Math.max(...counts));
    assert.ok(Math.abs(xs[best]! - 5) <= 0.5, `peak at ${xs[best]}`);
    // centroid over background: robust against Poisson noise
    const bg = Math.min(...counts);
    const w = counts.map((c) => c - bg);
    const centroid = w.reduce((s, c, i) => s + c * xs[i]!, 0) / w.reduce((s, c) => s + c, 0);
    assert.ok(Math.abs(centroid - 5) < 0.1, `centroid ${centroid}`);
    assert.ok(Math.max(...counts) > 10 * bg, "a real peak over the background");
  });
});

Deno.test("dscan returns the sim motor to where it started", async () => {
  await withSimLab(FAST_MOTOR, async (lab) => {
    await lab.get("motor").write("position", 2);
    while (await lab.get("motor").device.isMoving!()) await new Promise((r) => setTimeout(r, 5));
    const run = new ScanRun(lab, motorRelative(-1, 1, 5));
    const r = await run.start();
    assert.equal(r.state, "done");
    assert.equal(r.returned, true);
    assert.deepEqual(run.points.map((p) => p.readbacks[0]), [1, 1.5, 2, 2.5, 3]);
    assert.equal(await motorAt(lab), 2);
  });
});

Deno.test("a limit violation is refused before the sim motor moves", async () => {
  await withSimLab("sim://motor?velocity=1000&min=-5&max=8", async (lab) => {
    const calls = () => (lab.get("motor").device as unknown as { calls: number }).calls;
    const writesBefore = lab.get("motor").stats.writes;
    const run = new ScanRun(lab, motorLine(0, 10, 11));
    const before = calls();
    await assert.rejects(run.start(), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /point 9 of 11: motor\.position: 9 is above the upper limit 8/);
      return true;
    });
    assert.equal(lab.get("motor").stats.writes, writesBefore);
    // the only call was reading the start position
    assert.ok(calls() - before <= 1);
    assert.equal(await motorAt(lab), 0);
  });
});

Deno.test("stopping at once halts a sim motor mid-move", async () => {
  await withSimLab("sim://motor?velocity=5", async (lab) => {
    const warnings: string[] = [];
    const run = new ScanRun(lab, motorRelative(5, 10, 2), { warn: (m) => warnings.push(m) });
    const done = run.start();
    await run.ready();
    const motor = lab.get("motor").device;
    while (!(await motor.isMoving!())) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    run.abort();
    const r = await done;
    assert.equal(r.state, "aborted");
    assert.equal(r.recorded, 0);
    assert.equal(r.returned, false);
    assert.equal(await motor.isMoving!(), false, "the motor was told to stop");
    const at = await motorAt(lab);
    assert.ok(at > 0 && at < 5, `stopped part way, at ${at}`);
    assert.match(warnings.join("\n"), /stopped motor where it was/);
  });
});

// ---- real processes ----

/** Runs labwire through main.ts as a real process. */
function labwire(args: string[], opts: { cwd: string; stdout?: "piped" | "null" } = { cwd: ROOT }) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}main.ts`, ...args],
    cwd: opts.cwd,
    stdout: opts.stdout ?? "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  });
}

/** Runs `fn` in a fresh temporary directory, removed after. */
async function withScanDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-scan-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `labwire scan --devices DEVICES WORDS…` as a real process in `dir`. */
function scanIn(dir: string, devices: string, words: string[]) {
  return labwire(["scan", "--devices", devices, ...words], { cwd: dir });
}

Deno.test("labwire scan prints NDJSON points in a pipe and records them in the session", async () => {
  await withScanDir(async (dir) => {
    const out = await scanIn(dir, "sim://motor?velocity=1000,sim://det?seed=5", [
      ...ascan(0, 10, 21),
      "--session",
      `${dir}/s.sqlite`,
      "--out",
      `${dir}/a.csv`,
    ]).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 21);
    assert.deepEqual(lines.map((l) => l.point), Array.from({ length: 21 }, (_, i) => i));
    const peak = lines.reduce((a, l) => (l["det.counts"] > a["det.counts"] ? l : a));
    assert.equal(peak["motor.position_target"], 5);
    const csv = await Deno.readTextFile(`${dir}/a.csv`);
    assert.match(csv, /^# labwire scan 1\n# command: labwire scan --devices/);
    assert.match(csv, /\n# units: motor.position=mm det.counts=counts\n/);
    assert.match(csv, /\npoint,t,motor.position,motor.position_target,det.counts\n/);
    assert.equal(csv.trim().split("\n").filter((l) => !l.startsWith("#")).length, 22);
    const db = new DatabaseSync(`${dir}/s.sqlite`, { readOnly: true });
    try {
      const [scan] = listScans(db);
      assert.equal(scan?.state, "done");
      assert.equal(scan?.recorded, 21);
    } finally {
      db.close();
    }
  });
});

Deno.test("labwire scan refuses a limit violation with exit 2 before moving", async () => {
  await withScanDir(async (dir) => {
    const out = await scanIn(dir, "sim://motor?max=8,sim://det", [
      ...ascan(0, 10, 11),
      "--no-session",
    ]).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /9 is above the upper limit 8 mm.*nothing was moved/);
    assert.equal(new TextDecoder().decode(out.stdout), "");
  });
});

Deno.test("SIGINT keeps every completed point and returns the motor; --resume completes the scan", async () => {
  await withScanDir(async (dir) => {
    const session = `${dir}/s.sqlite`;
    // 0.1 mm per point at 2 mm/s: about 50 ms per point
    const child = scanIn(dir, "sim://motor?velocity=2,sim://det?seed=5", [
      ...dscan(0, 2, 21),
      "--session",
      session,
    ]).spawn();
    const seen: number[] = [];
    let text = "";
    const decoder = new TextDecoder();
    let signalled = false;
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const l of lines) seen.push(JSON.parse(l).point);
      if (!signalled && seen.length >= 3) {
        child.kill("SIGINT");
        signalled = true;
      }
    }
    const status = await child.status;
    const stderr = decoder.decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 130, stderr);
    assert.ok(seen.length >= 3 && seen.length < 21, `stopped after ${seen.length} points`);
    assert.match(stderr, /relative positioners returned to their start/);
    assert.match(stderr, /resume with: labwire scan --resume/);

    const db = new DatabaseSync(session, { readOnly: true });
    let recorded: number[];
    try {
      const [scan] = listScans(db);
      assert.equal(scan?.state, "stopped");
      recorded = readScanPoints(db, scan!.id).map((p) => p.index);
    } finally {
      db.close();
    }
    assert.deepEqual(recorded, seen, "every printed point is in the session, nothing more");
    assert.deepEqual(recorded, Array.from({ length: recorded.length }, (_, i) => i));

    const resumed = await labwire(["scan", "--resume", session], { cwd: dir }).output();
    const rerr = decoder.decode(resumed.stderr);
    assert.equal(resumed.code, 0, rerr);
    assert.match(rerr, new RegExp(`resuming scan 1 at point ${recorded.length}`));
    const more = decoder.decode(resumed.stdout).trim().split("\n").map((l) => JSON.parse(l).point);
    assert.equal(more[0], recorded.length);

    const db2 = new DatabaseSync(session, { readOnly: true });
    try {
      const store = new ScanStore(db2);
      const scan = store.get(1);
      assert.equal(scan.state, "done");
      const points = store.points(1);
      assert.deepEqual(points.map((p) => p.index), Array.from({ length: 21 }, (_, i) => i));
      // relative targets keep the original origin (0): 0, 0.1, …, 2
      assert.deepEqual(
        points.map((p) => Math.round(p.positions[0]! * 10) / 10),
        Array.from({ length: 21 }, (_, i) => i / 10),
      );
    } finally {
      db2.close();
    }
    const again = await labwire(["scan", "--resume", session], { cwd: dir }).output();
    assert.equal(again.code, 2);
    assert.match(decoder.decode(again.stderr), /every scan .* is complete/);
  });
});

Deno.test("a closed pipe ends the scan quietly with exit 0", async () => {
  await withScanDir(async (dir) => {
    const child = scanIn(dir, "sim://det", [
      "count",
      "100000",
      "-d",
      "det.counts",
      "--no-session",
    ]).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    await reader.cancel();
    const status = await child.status;
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 0, stderr);
    assert.doesNotMatch(stderr, /error/i);
    // quietly: no statistics of the points taken until the reader left
    assert.doesNotMatch(stderr, /peak|points kept/);
  });
});

Deno.test("a device error mid-scan stops safely: exit 1, points kept, motor returned", async () => {
  await withScanDir(async (dir) => {
    const session = `${dir}/s.sqlite`;
    const out = await scanIn(dir, "sim://motor?velocity=1000,sim://det?seed=7&error_rate=0.1", [
      ...dscan(0, 2, 21),
      "--session",
      session,
    ]).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /simulated error_rate/);
    assert.match(stderr, /failed: \d+ of 21 points kept.*relative positioners returned/);
    const printed = new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l)
      .map((l) => JSON.parse(l).point);
    const db = new DatabaseSync(session, { readOnly: true });
    try {
      const [scan] = listScans(db);
      assert.equal(scan?.state, "failed");
      assert.match(scan?.error ?? "", /simulated error_rate/);
      assert.deepEqual(readScanPoints(db, scan!.id).map((p) => p.index), printed);
    } finally {
      db.close();
    }
  });
});

peerTest(
  "scan on a terminal draws its progress bar, but not under TERM=dumb (it cannot erase a line)",
  () => findProgram("script") ? [] : ["script (util-linux)"],
  async () => {
    const dir = await Deno.makeTempDir();
    const run = async (term: string) => {
      const command = `${Deno.execPath()} run -A ${ROOT}main.ts scan --demo ${
        ascan(0, 1, 3).join(" ")
      }`;
      const out = await new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        env: { TERM: term, NO_COLOR: "1" },
        cwd: dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout);
    };
    try {
      const xterm = await run("xterm");
      assert.match(xterm, /\[#+-*\] 1\/3 /, "the bar, on a terminal that can erase it");
      const dumb = await run("dumb");
      assert.match(dumb, /done: 3 of 3 points/, dumb);
      assert.ok(!dumb.includes("\x1b"), JSON.stringify(dumb));
      assert.doesNotMatch(dumb, /\[#+-*\] \d/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("a scan refused by its checks (a mistyped attribute, a limit, a read-only positioner, an --out it cannot write) makes no session file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-scan-typo-" });
  try {
    const refused: [words: string[], why: RegExp][] = [
      [["motor.positon", "0", "1", "3", "-d", "det.counts"], /has no attribute "positon"/],
      [["motor.position", "0", "1", "3", "-d", "det.cnts"], /has no attribute "cnts"/],
      [["motor.position", "0", "1e9", "3", "-d", "det.counts"], /above the upper limit/],
      [["det.counts", "0", "1", "3", "-d", "motor.position"], /read-only, so it cannot be scanned/],
      // an --out in a folder that is not there: said before the scan starts, not after
      [
        ["motor.position", "0", "1", "3", "-d", "det.counts", "--out", "/nonexistent/x.csv"],
        /--out \/nonexistent\/x\.csv: no folder \/nonexistent\n/,
      ],
    ];
    for (const [words, why] of refused) {
      const r = await runCli(["scan", "--demo", "ascan", ...words], { cwd: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, why);
    }
    // neither made a session file (nor a segment in one)
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
