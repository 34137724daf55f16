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

/** Epoch ms minus monotonic ms now: moves only when the system clock is stepped or slewed. */
function clockOffset(): number {
  return Date.now() - performance.now();
}

Deno.test("WallClock on the process's clocks agrees with Date.now() within a millisecond", () => {
  // This project's VMs have their wall clock stepped by a few ms now and then (seen: 5 ms, several
  // times in two minutes). A step after the sync is the documented up-to-a-second lag, not a
  // fault, so an attempt the system clock moved under is repeated; a quiet attempt must hold.
  for (let attempt = 1;; attempt++) {
    const offsetBefore = clockOffset();
    const clock = new WallClock();
    const misses: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const t = clock.secondsAt(performance.now()) * 1000;
      const after = Date.now();
      if (!(t >= before - 1 && t <= after + 1)) {
        misses.push(`${t} not between ${before} and ${after}`);
      }
    }
    const stepped = Math.abs(clockOffset() - offsetBefore) > 0.5;
    if (stepped && attempt < 5) continue;
    assert.ok(!stepped, "the system clock moved under five attempts in a row");
    assert.deepEqual(misses, []);
    break;
  }
  const t = wallSecondsAt(performance.now()) * 1000;
  assert.ok(Math.abs(t - Date.now()) <= 1001, `the process clock ${t} is epoch ms like Date.now()`);
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
