import assert from "node:assert/strict";
import { MotorState, SimWorld } from "./world.ts";

Deno.test("a move runs at the velocity and ends at the target", () => {
  const m = new MotorState({ min: -100, max: 100, velocity: 10 });
  m.moveTo(5, 1000);
  assert.equal(m.target, 5);
  assert.equal(m.readback(1000), 0);
  assert.equal(m.readback(1250), 2.5);
  assert.equal(m.moving(1250), true);
  assert.equal(m.arrival(), 1500);
  assert.equal(m.readback(1500), 5);
  assert.equal(m.moving(1500), false);
  assert.equal(m.readback(9999), 5);
});

Deno.test("moves go backwards too, and a new move starts from where the motor is", () => {
  const m = new MotorState({ min: -100, max: 100, velocity: 4 });
  m.moveTo(-2, 0);
  assert.equal(m.readback(250), -1);
  m.moveTo(3, 250);
  assert.equal(m.readback(250), -1);
  assert.equal(m.readback(750), 1);
  assert.equal(m.readback(2000), 3);
});

Deno.test("stop holds the motor where it is; a velocity change mid-move keeps the position", () => {
  const m = new MotorState({ min: -100, max: 100, velocity: 10 });
  m.moveTo(10, 0);
  m.setVelocity(20, 500); // at 5, now at 20 units/s
  assert.equal(m.readback(500), 5);
  assert.equal(m.readback(600), 7);
  m.stop(600);
  assert.equal(m.target, 7);
  assert.equal(m.moving(601), false);
  assert.equal(m.readback(5000), 7);
});

Deno.test("the world shares a motor by id and forgets it after the last release", () => {
  const w = new SimWorld();
  const a = w.acquireMotor("m1");
  const b = w.acquireMotor("m1");
  assert.equal(a, b);
  assert.notEqual(w.acquireMotor("m2"), a);
  assert.deepEqual(w.motorIds().sort(), ["m1", "m2"]);
  w.releaseMotor("m1");
  assert.ok(w.motorIds().includes("m1"));
  w.releaseMotor("m1");
  w.releaseMotor("m2");
  assert.deepEqual(w.motorIds(), []);
});

Deno.test("a move shorter than a microsecond is over at once", () => {
  const m = new MotorState({ min: -100, max: 100, velocity: 1e9 });
  m.moveTo(0.5, 1000);
  assert.equal(m.moving(1000), false);
  assert.equal(m.readback(1000), 0.5);
});
