import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
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
    // Aborted once the move has started (the write came back), as Ctrl-C would.
    while (!(await lab.get("m").device.isMoving!())) await new Promise((r) => setTimeout(r, 5));
    stop.abort(new Error("interrupted by SIGINT"));
    await assert.rejects(restoring, (e) => {
      assert.ok(e instanceof RestoreInterrupted);
      assert.deepEqual([e.restored, e.underWay, e.notWritten], [[], "m.position", ["m.velocity"]]);
      assert.match(e.message, /^interrupted: m\.position not reached \(its move was not stopped/);
      assert.match(e.message, /; not written: m\.velocity$/);
      return true;
    });
    assert.equal(await lab.get("m").device.isMoving!(), true, "the move was not stopped");
  } finally {
    await lab.close();
  }
});

Deno.test("RestoreInterrupted: the last value's interruption names nothing as not written", () => {
  assert.equal(
    new RestoreInterrupted([], "m.position", []).message,
    "interrupted: m.position not reached (its move was not stopped: it may still be moving)",
  );
});
