import assert from "node:assert/strict";
import type { Value } from "../device/attr.ts";
import { ringMemory, RingReader, RingWriter } from "./row_ring.ts";

/** A sink that keeps the rows drained into it. */
function collector(): {
  rows: [number, number, Value][];
  add(t: number, id: number, v: Value): void;
} {
  const rows: [number, number, Value][] = [];
  return { rows, add: (t, id, v) => void rows.push([t, id, v]) };
}

/**
 * Waits for `p` (a reader's wait, resolved by V8 through the event loop, which a pending timer
 * keeps running); fails after 10 s.
 */
async function settled(p: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("the reader's wait did not end")), 10_000);
  });
  try {
    await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("ring: the putting side rings the doorbell only for a sleeping reader; rows put while it is awake wait for its own drain", async () => {
  const memory = ringMemory({ rows: 16, bytes: 64 });
  const writer = new RingWriter(memory);
  const reader = new RingReader(memory);
  const sink = collector();
  // Before the reader is taken as started, nothing is published.
  writer.add(1, 0, 1.5);
  assert.equal(reader.held, 0);
  // It starts asleep: the first wake-up rings, and publishes what was put.
  const first = reader.sleep(true);
  writer.live();
  assert.equal(reader.held, 1);
  assert.equal(writer.wake(), true);
  await settled(first);
  // Awake: each row is published as it is put, and a timed flush rings nothing.
  writer.add(2, 0, 2.5);
  writer.add(2, 1, "torr");
  assert.equal(reader.held, 3);
  assert.equal(writer.wake(), false);
  assert.equal(reader.drain(sink), 3);
  assert.deepEqual(sink.rows, [[1, 0, 1.5], [2, 0, 2.5], [2, 1, "torr"]]);
  // Asleep after a quiet period: the next flush's wake-up rings, once.
  let woke = false;
  const sleeping = reader.sleep().then(() => woke = true);
  writer.add(3, 1, "torr");
  await Promise.resolve();
  assert.equal(woke, false, "a row alone does not wake it");
  assert.equal(writer.wake(), true);
  assert.equal(writer.wake(), false, "woken already");
  await settled(sleeping);
  assert.equal(writer.bells, 2);
  // A reader that would sleep with rows published returns at once, and nothing rings.
  await settled(reader.sleep());
  assert.equal(writer.wake(), false);
  assert.equal(reader.drain(sink), 1);
  assert.deepEqual(sink.rows.at(-1), [3, 1, "torr"]);
  assert.equal(writer.bells, 2);
});

Deno.test("ring: what the putting side holds is known without a look at the reader until asked", () => {
  const memory = ringMemory({ rows: 8, bytes: 64 });
  const writer = new RingWriter(memory);
  const reader = new RingReader(memory);
  writer.live();
  for (let i = 0; i < 5; i++) assert.ok(writer.add(i, 0, i));
  assert.equal(writer.held, 5);
  reader.drain(collector());
  assert.equal(writer.held, 5, "an upper bound until the room is looked at");
  assert.equal(writer.heldNow(), 0);
  assert.equal(writer.held, 0);
  // Full: the ninth row does not fit until the reader drains.
  for (let i = 0; i < 8; i++) assert.ok(writer.add(i, 0, i));
  assert.equal(writer.add(9, 0, 9), false);
  reader.drain(collector());
  assert.ok(writer.add(9, 0, 9));
});
