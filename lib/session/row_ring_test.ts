import assert from "node:assert/strict";
import type { Value } from "../device/attr.ts";
import { RingDoor, ringMemory, RingReader, RingWriter } from "./row_ring.ts";

/** A sink that keeps the rows drained into it. */
function collector(): {
  rows: [number, number, Value][];
  add(t: number, id: number, v: Value): void;
} {
  const rows: [number, number, Value][] = [];
  return { rows, add: (t, id, v) => void rows.push([t, id, v]) };
}

Deno.test("ring: the putting side rings the doorbell only for a sleeping reader; rows put while it is awake wait for its own drain", () => {
  const memory = ringMemory({ rows: 16, bytes: 64 });
  const writer = new RingWriter(memory);
  const reader = new RingReader(memory);
  const sink = collector();
  // Before the reader is taken as started, nothing is published.
  writer.add(1, 0, 1.5);
  assert.equal(reader.held, 0);
  assert.equal(reader.rung, false);
  // It starts asleep: the first wake-up rings, and publishes what was put.
  const first = reader.bell();
  writer.live();
  assert.equal(reader.held, 1);
  assert.equal(writer.wake(), true);
  assert.equal(reader.rung, true);
  assert.notEqual(reader.bell(), first, "a wait from before the ring ends at once");
  // Awake: the rows are published by each commit (one per reading), and a timed flush rings
  // nothing.
  writer.add(2, 0, 2.5);
  writer.add(2, 1, "torr");
  assert.equal(reader.held, 1, "put, not yet committed");
  writer.commit();
  assert.equal(reader.held, 3);
  assert.equal(writer.wake(), false);
  assert.equal(reader.drain(sink), 3);
  assert.deepEqual(sink.rows, [[1, 0, 1.5], [2, 0, 2.5], [2, 1, "torr"]]);
  // Asleep after a quiet period (its wait ends at the timeout here: nobody rang, so it still
  // sleeps): the next flush's wake-up rings, once.
  const asleep = reader.bell();
  reader.sleep(asleep, 1);
  assert.equal(reader.rung, false);
  writer.add(3, 1, "torr");
  writer.commit();
  assert.equal(reader.bell(), asleep, "a row alone does not ring");
  assert.equal(writer.wake(), true);
  assert.equal(writer.wake(), false, "woken already");
  assert.notEqual(reader.bell(), asleep);
  assert.equal(writer.bells, 2);
  // A reader that would sleep with rows published returns at once (a wait of an hour would
  // hang the test), and nothing rings.
  reader.sleep(reader.bell(), 3_600_000);
  assert.equal(writer.wake(), false);
  assert.equal(reader.drain(sink), 1);
  assert.deepEqual(sink.rows.at(-1), [3, 1, "torr"]);
  assert.equal(writer.bells, 2);
});

Deno.test("ring: a message posted or the stop rings the doorbell, whether the reader sleeps or not", () => {
  const memory = ringMemory({ rows: 8, bytes: 64 });
  const reader = new RingReader(memory);
  const door = new RingDoor(memory);
  const bell = reader.bell();
  door.posted();
  door.posted();
  assert.equal(reader.posted, 2);
  assert.notEqual(reader.bell(), bell);
  // A wait from before the knock returns at once (an hour's would hang the test).
  reader.wait(bell, 3_600_000);
  reader.sleep(bell, 3_600_000);
  assert.equal(reader.stopped, false);
  door.stop();
  assert.equal(reader.stopped, true);
  assert.equal(reader.rung, true, "awake after a sleep a knock ended: rows need no doorbell");
});

Deno.test("ring: what the putting side holds is known without a look at the reader until asked", () => {
  const memory = ringMemory({ rows: 8, bytes: 64 });
  const writer = new RingWriter(memory);
  const reader = new RingReader(memory);
  writer.live();
  for (let i = 0; i < 5; i++) assert.ok(writer.add(i, 0, i));
  writer.commit();
  assert.equal(writer.held, 5);
  reader.drain(collector());
  assert.equal(writer.held, 5, "an upper bound until the room is looked at");
  assert.equal(writer.heldNow(), 0);
  assert.equal(writer.held, 0);
  // Full: the ninth row does not fit until the reader drains.
  for (let i = 0; i < 8; i++) assert.ok(writer.add(i, 0, i));
  assert.equal(writer.add(9, 0, 9), false);
  writer.commit();
  reader.drain(collector());
  assert.ok(writer.add(9, 0, 9));
});
