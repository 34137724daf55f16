/**
 * A `ca://` device made of several PVs with motor-record semantics (issue 14 item 8), end to end:
 * `labwire write --wait`, `scan`, `position restore --wait` and `stop` as processes against the
 * reference softIoc serving a motor-like record set (tests/interop/fixtures/ca_motor.db: the
 * Debian EPICS base has no motor record), with the reference `caget` as the independent witness.
 */
import assert from "node:assert/strict";
import { EPICS_BIN, findProgram, peerTest, runTool } from "../peers.ts";
import { missingSoftIoc, type SoftIoc, startSoftIoc } from "./ca_softioc.ts";
import { runCli } from "../e2e/run_cli.ts";

const DB = await Deno.readTextFile(new URL("./fixtures/ca_motor.db", import.meta.url));
const CAGET = findProgram(`${EPICS_BIN}/caget`);

/** The motor-like records as a labwire device: the fields are records of their own (`:VAL`). */
const LAB = `
[devices.m1]
address = "ca://LW:m1"
motor = true
pvs = { position = ":VAL", readback = ":RBV", done = ":DMOV", stop = ":STOP", velocity = ":VELO" }
`;

/** The same with a PV that no IOC serves. */
const TYPO = `
[devices.m1]
address = "ca://LW:m1"
timeout = "1s"
motor = true
pvs = { position = ":VAL", readback = ":RBVX", done = ":DMOV", stop = ":STOP" }
`;

/**
 * Reads numeric PVs with the reference caget: name → value. Through runTool, with EPICS_BIN off
 * PATH: on a machine with no caRepeater running, libca spawns one that inherits caget's stdout,
 * and `Deno.Command.output()` would wait for that pipe forever.
 */
async function caget(ioc: SoftIoc, ...pvs: string[]): Promise<Record<string, number>> {
  const r = await runTool(CAGET!, ["-t", ...pvs], {
    env: { ...ioc.env, PATH: "/usr/bin:/bin" },
    timeoutMs: 20_000,
  });
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split("\n");
  return Object.fromEntries(pvs.map((pv, i) => [pv, Number(lines[i])]));
}

function missing(): string[] {
  return [...missingSoftIoc(), ...(CAGET ? [] : [`caget (reference EPICS build in ${EPICS_BIN})`])];
}

peerTest(
  "a motor of several PVs: write --wait, stop, scan and position restore --wait against softIoc",
  missing,
  async (t) => {
    const ioc = await startSoftIoc({ db: DB, macros: { P: "LW:", M: "m1", VELO: "5" } });
    const dir = await Deno.makeTempDir({ prefix: "labwire-motor-" });
    const env = { ...ioc.env, LABWIRE_STATE_DIR: `${dir}/state` };
    const lw = (...args: string[]) => runCli(args, { env, cwd: dir });
    try {
      await Deno.writeTextFile(`${dir}/lab.toml`, LAB);
      await Deno.writeTextFile(`${dir}/typo.toml`, TYPO);
      const c = ["-c", `${dir}/lab.toml`];

      await t.step(
        "attributes and types come from the PVs, the roles from the config",
        async () => {
          const r = await lw("read", ...c, "m1", "--describe");
          assert.equal(r.code, 0, r.stderr);
          const d = JSON.parse(r.stdout);
          assert.deepEqual(Object.keys(d), ["position", "readback", "done", "stop", "velocity"]);
          assert.deepEqual(
            [d.position.type, d.position.rw, d.position.units, d.position.min, d.position.max],
            ["number", true, "mm", -100, 100],
          );
          assert.equal(d.readback.rw, false, "the readback is read-only whatever its PV allows");
          assert.equal(d.done.type, "boolean");
          assert.match(d.stop.description, /^action: .*\(PV LW:m1:STOP\)/);
          assert.equal(d.velocity.units, "mm/s");
          // STOP is a bo here (states Go/Stop): a declared boolean reads "not the first state"
          const stop = await lw("read", ...c, "m1", "--attrs", "stop");
          assert.equal(stop.code, 0, stop.stderr);
          assert.equal(JSON.parse(stop.stdout).stop, false);
        },
      );

      await t.step(
        "write --wait returns once DMOV is back to 1 with RBV at the target",
        async () => {
          const r = await lw("write", ...c, "m1", "position=2", "--wait");
          assert.equal(r.code, 0, r.stderr);
          const v = JSON.parse(r.stdout);
          assert.deepEqual([v.position, v.readback, v.done], [2, 2, true]);
          assert.deepEqual(await caget(ioc, "LW:m1:RBV", "LW:m1:DMOV"), {
            "LW:m1:RBV": 2,
            "LW:m1:DMOV": 1,
          });
          // a move to where the motor is never takes DMOV to 0: the guard ends it
          const same = await lw("write", ...c, "m1", "position=2", "--wait");
          assert.equal(same.code, 0, same.stderr);
          assert.equal(JSON.parse(same.stdout).readback, 2);
        },
      );

      await t.step("stop ends a move where the motor is, and a waiting write with it", async () => {
        // 40 mm at 5 mm/s: far longer than these steps take
        const far = await lw("write", ...c, "m1", "position=42");
        assert.equal(far.code, 0, far.stderr);
        assert.equal(
          (await caget(ioc, "LW:m1:DMOV"))["LW:m1:DMOV"],
          0,
          "moving after a plain write",
        );
        const waiting = lw("write", ...c, "m1", "position=41", "--wait");
        // the stop goes once the waiting write has retargeted the move
        const end = Date.now() + 20_000;
        while ((await caget(ioc, "LW:m1:VAL"))["LW:m1:VAL"] !== 41) {
          assert.ok(Date.now() < end, "the waiting write never reached the IOC");
          await new Promise((r) => setTimeout(r, 20));
        }
        const stop = await lw("write", ...c, "m1", "stop");
        assert.equal(stop.code, 0, stop.stderr);
        assert.deepEqual(JSON.parse(stop.stdout).stop, true);
        const waited = await waiting;
        assert.equal(waited.code, 0, waited.stderr);
        const v = JSON.parse(waited.stdout);
        assert.equal(v.done, true);
        assert.ok(v.readback > 2 && v.readback < 41, `stopped on the way, at ${v.readback}`);
        assert.equal(v.position, v.readback, "STOP put the setpoint where the motor was");
      });

      await t.step(
        "a scan records the motor's RBV at every point after the move settles",
        async () => {
          const r = await lw(
            "scan",
            ...c,
            "ascan",
            "m1.position",
            "0",
            "1",
            "3",
            "-d",
            "m1.readback,m1.done",
            "--json",
          );
          assert.equal(r.code, 0, r.stderr);
          const points = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
          assert.deepEqual(
            points.map((
              p,
            ) => [p["m1.position_target"], p["m1.position"], p["m1.readback"], p["m1.done"]]),
            [[0, 0, 0, true], [0.5, 0.5, 0.5, true], [1, 1, 1, true]],
          );
        },
      );

      await t.step("position restore --wait waits for the move and reports the RBV", async () => {
        const saved = await lw("position", "save", ...c, "home", "m1.position");
        assert.equal(saved.code, 0, saved.stderr);
        assert.equal((await lw("write", ...c, "m1", "position=3", "--wait")).code, 0);
        const r = await lw("position", "restore", ...c, "home", "--wait");
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout).restored, [
          { ref: "m1.position", value: 1, read_back: 1 },
        ]);
        assert.equal((await caget(ioc, "LW:m1:RBV"))["LW:m1:RBV"], 1);
      });

      await t.step("an address takes the same map: ?motor=1&pvs=…", async () => {
        const r = await lw(
          "read",
          "ca://LW:m1?motor=1&pvs=position=:VAL,readback=:RBV,done=:DMOV,stop=:STOP",
        );
        assert.equal(r.code, 0, r.stderr);
        const v = JSON.parse(r.stdout);
        assert.deepEqual([v.device, v.position, v.readback, v.done], ["LW:m1", 1, 1, true]);
      });

      await t.step(
        "a PV that does not connect is named, with the attribute it stands for",
        async () => {
          for (const args of [["read", "m1"], ["write", "m1", "position=1", "--wait"]]) {
            const r = await lw(args[0]!, "-c", `${dir}/typo.toml`, ...args.slice(1));
            assert.equal(r.code, 1, r.stderr);
            assert.match(r.stderr, /m1\.readback: PV LW:m1:RBVX not found: .*check the name/);
          }
        },
      );
    } finally {
      await ioc.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
