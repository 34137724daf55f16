import assert from "node:assert/strict";
import { RestoreInterrupted } from "../lib/scan/positions.ts";
import { interruptedNote } from "./position.ts";

Deno.test("interruptedNote: an interrupted move names the value under way, the rest, and how to stop", () => {
  assert.equal(
    interruptedNote("park", new RestoreInterrupted([], "m1.position", ["thermo.setpoint"], "move")),
    "park: interrupted: m1.position not reached (its move was not stopped: it may still be " +
      "moving); not written: thermo.setpoint; to stop a motor: labwire write m1 stop",
  );
  assert.equal(
    interruptedNote("park", new Error("interrupted by SIGINT")),
    "park: interrupted before any value was written",
  );
});

Deno.test("interruptedNote: an interrupted plain write says nothing of a move or a motor", () => {
  assert.equal(
    interruptedNote(
      "park",
      new RestoreInterrupted([], "thermo.setpoint", ["m1.position"], "write"),
    ),
    "park: interrupted: thermo.setpoint was being written (the device may or may not have taken " +
      "the value); not written: m1.position",
  );
});
