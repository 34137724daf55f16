/**
 * Named positions (issue 14): `labwire position save|restore|list|show|delete` as processes over
 * a state directory of their own, and the same over HTTP on a daemon.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli, runCliOnTerminal } from "./run_cli.ts";
import { startTestDaemon, until } from "./serve_fixture.ts";
import { spawnLabwire } from "./labwire_process.ts";
import { PositionStore } from "../../lib/session/positions.ts";

const BENCH = `
[devices.motor]
address = "sim://motor?velocity=1000"

[devices.thermo]
address = "sim://thermo?seed=2"

[devices.det]
address = "sim://det?seed=5"

[positions]
stage = ["motor.position", "thermo.setpoint"]
`;

Deno.test("position save, show, list, restore --wait and delete, kept in the state directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-positions-" });
  const env = { LABWIRE_STATE_DIR: `${dir}/state` };
  const lw = (...args: string[]) => runCli(args, { env });
  try {
    await Deno.writeTextFile(`${dir}/lab.toml`, BENCH);
    const c = ["-c", `${dir}/lab.toml`];
    const saved = await lw("position", "save", ...c, "home", "motor.position", "thermo.setpoint");
    assert.equal(saved.code, 0, saved.stderr);
    assert.deepEqual(JSON.parse(saved.stdout).values, {
      "motor.position": 0,
      "thermo.setpoint": 25,
    });
    assert.match(saved.stderr, /saved position home in .*\/state\/positions\.sqlite/);
    // a group from the config; saving again replaces
    const group = await lw("position", "save", ...c, "stage_pos", "stage");
    assert.equal(group.code, 0, group.stderr);
    assert.deepEqual(Object.keys(JSON.parse(group.stdout).values), [
      "motor.position",
      "thermo.setpoint",
    ]);
    const again = await lw("position", "save", ...c, "stage_pos", "stage");
    assert.match(again.stderr, /replaced position stage_pos/);

    const list = JSON.parse((await lw("position", "list")).stdout);
    assert.deepEqual(list.positions.map((p: { name: string }) => p.name), ["home", "stage_pos"]);
    const show = JSON.parse((await lw("position", "show", "home")).stdout);
    assert.equal(show.name, "home");
    assert.equal(typeof show.saved, "number");

    const restored = await lw("position", "restore", ...c, "home", "--wait");
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(JSON.parse(restored.stdout).restored, [
      { ref: "motor.position", value: 0, read_back: 0 },
      { ref: "thermo.setpoint", value: 25, read_back: 25 },
    ]);

    // the file is a small SQLite file (node:sqlite, like sessions) in the state directory
    const db = new DatabaseSync(`${dir}/state/positions.sqlite`, { readOnly: true });
    assert.equal((db.prepare("SELECT count(*) AS n FROM positions").get() as { n: number }).n, 2);
    db.close();

    const del = await lw("position", "delete", "home");
    assert.equal(del.code, 0, del.stderr);
    const gone = await lw("position", "show", "home");
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /no position "home"; positions: stage_pos/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("position mistakes are usage errors naming what to do (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-positions-" });
  const env = { LABWIRE_STATE_DIR: `${dir}/state` };
  try {
    await Deno.writeTextFile(`${dir}/lab.toml`, BENCH);
    const c = ["-c", `${dir}/lab.toml`];
    const cases: [string[], RegExp][] = [
      [["position"], /give a subcommand/],
      [["position", "sav", "x"], /unknown subcommand "sav"[\s\S]*did you mean "save"/],
      [
        ["position", "save", ...c, "p", "det.counts"],
        /det\.counts is read-only, so it cannot be restored/,
      ],
      [
        ["position", "save", ...c, "p", "stag"],
        /"stag" is neither device\.attr nor a group of \[positions\].*groups: stage/,
      ],
      [["position", "save", ...c, "bad name", "motor.position"], /is not a position name/],
      // a device of no config: how to open it, not "give an address" (an address is no DEV.ATTR)
      [
        ["position", "save", ...c, "p", "stage1.x"],
        /unknown device "stage1" \(config searched: .*lab\.toml\); it has: motor, thermo, det\n {2}open it with --devices ADDRESS \(e\.g\. --devices sim:\/\/stage1\), or give the config it is in/,
      ],
      [
        ["position", "save", ...c, "p", "motr.position"],
        /unknown device "motr"[^\n]*\n {2}did you mean "motor"\?/,
      ],
      [["position", "restore", ...c, "nothing"], /no position "nothing"; none saved/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HTTP: PUT saves, GET lists and shows, POST restore writes back (409 during a scan), DELETE", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-positions-" });
  const d = await startTestDaemon({
    bench: BENCH.replace('velocity=1000"', 'velocity=1000"\ninterval = "250ms"'),
    positions: `${dir}/positions.sqlite`,
  });
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${d.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    const put = await send("PUT", "/api/positions/load", { attrs: ["motor.position"] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.values, { "motor.position": 0 });
    assert.equal(put.body.replaced, false);
    const grp = await send("PUT", "/api/positions/stage_pos", { group: "stage" });
    assert.equal(grp.status, 200, JSON.stringify(grp.body));
    assert.equal((await send("GET", "/api/positions")).body.positions.length, 2);
    assert.equal((await send("GET", "/api/positions/load")).body.name, "load");
    assert.equal((await send("GET", "/api/positions/nope")).status, 404);

    // move away, then restore with wait: the motor is back at 0
    await send("PUT", "/api/devices/motor/attrs/position", { value: 3 });
    const r = await send("POST", "/api/positions/load/restore", { wait: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.restored, [{ ref: "motor.position", value: 0, read_back: 0 }]);

    // while a scan owns the motor, a restore is refused (the one ownership rule)
    const scan = await send("POST", "/api/scans", {
      plan: {
        kind: "line",
        relative: false,
        axes: [{ positioner: "motor.position", start: 0, stop: 50 }],
        num: 2000,
      },
      detectors: ["det.counts"],
      settle_ms: 5,
    });
    assert.equal(scan.status, 202, JSON.stringify(scan.body));
    const busy = await send("POST", "/api/positions/load/restore", {});
    assert.equal(busy.status, 409, JSON.stringify(busy.body));
    await send("DELETE", `/api/scans/${scan.body.id}`);
    await until(
      async () =>
        (await send("GET", `/api/scans/${scan.body.id}?limit=1`)).body.state !== "running",
      10_000,
      "scan stop",
    );

    const bad = await send("PUT", "/api/positions/x", { attrs: ["det.counts"] });
    assert.equal(bad.status, 400);
    assert.equal((await send("DELETE", "/api/positions/load")).status, 200);
    assert.equal((await send("DELETE", "/api/positions/load")).status, 404);
  } finally {
    await d.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("position restore --wait stopped by SIGTERM: exit 130 (interrupted), the move under way and what was never written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-positions-" });
  try {
    await Deno.writeTextFile(
      `${dir}/lab.toml`,
      BENCH.replace("velocity=1000", "velocity=1"),
    );
    // A position 50 mm away from where the simulated motor starts: a 50 s move at 1 mm/s.
    const store = PositionStore.open(`${dir}/state/positions.sqlite`);
    store.save({
      name: "far",
      saved: 0,
      values: [["motor.position", 50], ["thermo.setpoint", 30]],
    });
    store.close();
    const p = spawnLabwire(["position", "restore", "-c", `${dir}/lab.toml`, "far", "--wait"], {
      LABWIRE_STATE_DIR: `${dir}/state`,
    });
    // No output while it waits: the move is under way long before 4 s and far from over.
    await new Promise((r) => setTimeout(r, 4000));
    const code = await p.stop("SIGTERM");
    assert.equal(code, 130, p.lines.join("\n"));
    assert.deepEqual(p.lines, [
      "labwire position restore: far: interrupted: motor.position not reached (its move was not " +
      "stopped: it may still be moving); not written: thermo.setpoint; to stop a motor: labwire " +
      "write motor stop",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README: the position examples are what a terminal shows (indented JSON)", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("\n## position\n"));
  const block = section.slice(section.indexOf("```console\n") + 11, section.indexOf("\n```\n"));
  const dir = await Deno.makeTempDir({ prefix: "labwire-positions-readme-" });
  const state = `${dir}/state`;
  // What differs from run to run (the time saved, the state directory) reads as in the README.
  const same = (text: string) =>
    text.replaceAll(state, "/home/ada/.local/state/labwire")
      .replace(/("saved": )[\d.]+/g, "$1T");
  try {
    await Deno.writeTextFile(`${dir}/pos.toml`, BENCH);
    const steps = block.split(/^\$ labwire /m).slice(1);
    // save, list, restore and delete
    assert.equal(steps.length, 4, block);
    for (const step of steps) {
      const [cmd, ...shown] = step.replace(/\n$/, "").split("\n");
      const out = await runCliOnTerminal(cmd!.split(" "), {
        cwd: dir,
        env: { LABWIRE_STATE_DIR: state },
      });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(same(out.stdout + out.stderr), same(shown.join("\n") + "\n"), cmd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
