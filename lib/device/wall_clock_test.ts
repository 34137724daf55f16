import assert from "node:assert/strict";
import { WallClock, wallSecondsAt } from "./wall_clock.ts";

/** Clocks a test moves by hand: the wall clock in whole ms (like Date.now), the monotonic in ms. */
function fakeClocks(wall0: number) {
  const c = { mono: 1000.25, wall: wall0, reads: 0 };
  const clock = new WallClock(() => {
    c.reads++;
    return Math.floor(c.wall);
  }, () => c.mono);
  const advance = (ms: number) => {
    c.mono += ms;
    c.wall += ms;
  };
  return { c, clock, advance };
}

Deno.test("WallClock: epoch seconds to the millisecond, the wall clock read once per second of use", () => {
  const { c, clock, advance } = fakeClocks(1_764_670_000_123.6);
  assert.equal(clock.secondsAt(c.mono), 1_764_670_000.123);
  for (let i = 0; i < 99; i++) {
    advance(9.5);
    const wallMs = Math.floor(c.wall);
    const t = clock.secondsAt(c.mono) * 1000;
    assert.ok(t <= wallMs && t >= wallMs - 1, `${t} within a millisecond behind ${wallMs}`);
    assert.equal(t, Math.round(t), "whole milliseconds");
  }
  assert.equal(c.reads, 1, "940 ms of readings: no second read of the wall clock");
  advance(100);
  clock.secondsAt(c.mono);
  assert.equal(c.reads, 2, "past a second: synced again");
});

Deno.test("WallClock: a step of the system clock is picked up within a second", () => {
  const { c, clock, advance } = fakeClocks(1_764_670_000_000);
  clock.secondsAt(c.mono);
  c.wall -= 3_600_000; // the clock is set back an hour
  advance(500);
  assert.equal(clock.secondsAt(c.mono), 1_764_670_000.5, "not yet: half a second after the sync");
  advance(500);
  assert.equal(clock.secondsAt(c.mono), 1_764_666_401, "a second after the sync: the new time");
  c.wall += 7_200_000; // and forward two hours
  advance(1000);
  assert.equal(clock.secondsAt(c.mono), 1_764_673_602);
});

Deno.test("WallClock: a monotonic reading from well before the last sync uses the offset of now", () => {
  const { c, clock, advance } = fakeClocks(1_764_670_000_000);
  advance(5000);
  clock.secondsAt(c.mono);
  assert.equal(clock.secondsAt(c.mono - 2000), 1_764_670_003);
  assert.equal(c.reads, 2, "synced again for it");
});

Deno.test("wallSecondsAt: the process's clocks agree with Date.now() within a millisecond", () => {
  for (let i = 0; i < 1000; i++) {
    const before = Date.now();
    const t = wallSecondsAt(performance.now()) * 1000;
    const after = Date.now();
    assert.ok(t >= before - 1 && t <= after + 1, `${t} between ${before} and ${after}`);
  }
});

Deno.test("WallClock.monoAt: the monotonic time a wall clock reading stands for, within a millisecond", () => {
  const { c, clock, advance } = fakeClocks(1_764_670_000_123.6);
  for (let i = 0; i < 99; i++) {
    const mono = clock.monoAt(Math.floor(c.wall));
    assert.ok(Math.abs(mono - c.mono) <= 1, `${mono} within a millisecond of ${c.mono}`);
    advance(9.7);
  }
  assert.equal(c.reads, 1, "960 ms of wall readings: synced once");
  c.wall += 3_600_000; // the clock is set forward an hour: a wall reading far from the sync's
  const mono = clock.monoAt(Math.floor(c.wall));
  assert.ok(Math.abs(mono - c.mono) <= 1, "the step is seen at once");
  assert.equal(c.reads, 2);
  // The two directions agree: the wall time of the monotonic time a wall reading stands for.
  const wall = Math.floor(c.wall);
  assert.ok(Math.abs(clock.secondsAt(clock.monoAt(wall)) * 1000 - wall) <= 1);
});
