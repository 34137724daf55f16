import assert from "node:assert/strict";
import { DeviceError, UsageError } from "../device/errors.ts";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import { benchToml } from "../../tests/fixtures/sim_bench.ts";
import { positionRefs, RestoreInterrupted, restorePosition } from "./positions.ts";

Deno.test("positionRefs: device.attr words, or a [positions] group; a mistyped group gets a did-you-mean", () => {
  const config = {
    devices: [],
    sections: { positions: { stage: ["motor.position", "thermo.setpoint"] } },
  };
  assert.deepEqual(positionRefs(["stage"], config), ["motor.position", "thermo.setpoint"]);
  assert.deepEqual(positionRefs(["motor.position"], config), ["motor.position"]);
  assert.throws(() => positionRefs(["stag"], config), (e) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /^"stag" is neither device\.attr nor a group .*\(groups: stage\)$/);
    assert.equal(e.hint, 'did you mean "stage"?');
    return true;
  });
  assert.throws(() => positionRefs(["zzzzzz"], config), (e) => e instanceof UsageError && !e.hint);
});

Deno.test("restorePosition: an abort during a move's wait says what was under way and what was never written, and leaves the move going", async () => {
  const lab = await Lab.open(parseConfig(benchToml({ m: "sim://motor?velocity=1" }, "1s")));
  try {
    const stop = new AbortController();
    const restoring = restorePosition(lab, {
      name: "park",
      saved: 0,
      values: [["m.position", 50], ["m.velocity", 2]],
    }, { wait: true, signal: stop.signal });
    // Aborted once the move has started (the write came back), as Ctrl-C would; a move that
    // never starts fails the test within 5 s instead of hanging it.
    const startBy = Date.now() + 5000;
    while (!(await lab.get("m").device.isMoving!())) {
      assert.ok(Date.now() < startBy, "the motor did not start moving within 5 s");
      await new Promise((r) => setTimeout(r, 5));
    }
    stop.abort(new Error("interrupted by SIGINT"));
    await assert.rejects(restoring, (e) => {
      assert.ok(e instanceof RestoreInterrupted);
      assert.deepEqual(
        [e.restored, e.underWay, e.notWritten, e.phase],
        [[], "m.position", ["m.velocity"], "move"],
      );
      assert.match(e.message, /^interrupted: m\.position not reached \(its move was not stopped/);
      assert.match(e.message, /; not written: m\.velocity$/);
      return true;
    });
    assert.equal(await lab.get("m").device.isMoving!(), true, "the move was not stopped");
  } finally {
    await lab.close();
  }
});

Deno.test("restorePosition: an abort during a plain write says the write was under way, not a move", async () => {
  // A thermostat's setpoint is no move: the write is answered after 10 s, unless aborted first.
  const lab = await Lab.open(parseConfig(benchToml({ t: "sim://thermo?latency=10s" }, "1s")));
  try {
    const stop = new AbortController();
    const restoring = restorePosition(lab, {
      name: "warm",
      saved: 0,
      values: [["t.setpoint", 30]],
    }, { wait: true, signal: stop.signal });
    setTimeout(() => stop.abort(new Error("interrupted by SIGTERM")), 100);
    await assert.rejects(restoring, (e) => {
      assert.ok(e instanceof RestoreInterrupted);
      assert.deepEqual([e.restored, e.underWay, e.notWritten, e.phase], [
        [],
        "t.setpoint",
        [],
        "write",
      ]);
      assert.equal(
        e.message,
        "interrupted: t.setpoint was being written (the device may or may not have taken the value)",
      );
      return true;
    });
  } finally {
    await lab.close();
  }
});

Deno.test("RestoreInterrupted: the last value's interruption names nothing as not written", () => {
  assert.equal(
    new RestoreInterrupted([], "m.position", [], "move").message,
    "interrupted: m.position not reached (its move was not stopped: it may still be moving)",
  );
});

Deno.test("restorePosition: a device failing mid-restore says what was restored before it and what was never written", async () => {
  const lab = await Lab.open(
    parseConfig(
      benchToml({ m: "sim://motor?velocity=1000", t: "sim://thermo?error_rate=1" }, "1s"),
    ),
  );
  try {
    await assert.rejects(
      restorePosition(lab, {
        name: "bench",
        saved: 0,
        values: [["m.position", 1], ["t.setpoint", 30], ["m.velocity", 2]],
      }),
      (e) => {
        assert.ok(e instanceof DeviceError, String(e));
        assert.match(
          e.message,
          /; t\.setpoint not restored \(restored before it: m\.position; not written: m\.velocity\)$/,
        );
        return true;
      },
    );
  } finally {
    await lab.close();
  }
});
