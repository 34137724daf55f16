import assert from "node:assert/strict";
import { MoveWatch } from "./motor_move.ts";

Deno.test("a move is over when DMOV has gone 0 and come back to 1, however long it stays 1 first", () => {
  const w = new MoveWatch(100);
  w.update(true);
  assert.equal(w.moving(0, false), false, "idle before any move");
  w.started();
  // the write is still completing, and DMOV still shows the old 1
  assert.equal(w.moving(1, true), true);
  assert.equal(w.moving(50, false), true, "1 just after the write may be the old state");
  w.update(false);
  assert.equal(w.moving(500, false), true);
  w.update(true);
  assert.equal(w.moving(501, false), false, "back to 1 after 0: done at once");
});

Deno.test("a move that never takes DMOV to 0 is over after the guard time from its write's completion", () => {
  const w = new MoveWatch(100);
  w.update(true);
  w.started();
  assert.equal(w.moving(0, true), true);
  assert.equal(w.moving(1000, true), true, "the guard starts when the write completes");
  assert.equal(w.moving(1010, false), true);
  assert.equal(w.moving(1109, false), true);
  assert.equal(w.moving(1110, false), false);
  assert.equal(w.moving(1111, false), false, "and stays over");
});

Deno.test("a retargeted move (DMOV already 0) is over when DMOV returns to 1", () => {
  const w = new MoveWatch(0);
  w.update(false);
  assert.equal(w.moving(0, false), true, "someone else's move");
  w.started();
  assert.equal(w.moving(10_000, false), true, "no guard: it went busy");
  w.update(true);
  assert.equal(w.moving(10_001, false), false);
});

Deno.test("DMOV unknown (disconnected) leaves the answer to a direct read; clear forgets the move", () => {
  const w = new MoveWatch(100);
  assert.equal(w.moving(0, false), undefined, "no monitor value yet");
  w.update(true);
  w.started();
  w.update(false);
  w.update(undefined);
  assert.equal(w.done, undefined);
  assert.equal(w.moving(5, false), undefined);
  assert.equal(w.moving(5, true), true, "the write has not even completed");
  w.update(true);
  assert.equal(w.moving(6, false), false, "it had gone busy before the gap");
  w.started();
  w.clear();
  assert.equal(w.moving(7, false), false, "after a stop, DMOV alone says");
});
