import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { positionRefs } from "./positions.ts";

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
