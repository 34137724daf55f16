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

Deno.test("ring: putValues puts a reading's rows as add does one by one, and stops at a name, at no room or at a text the ring cannot take", () => {
  const names = ["p", "units", "on", "spectrum", "note"];
  const ids = [0, 1, 2, 3, 4];
  // Small rings, drained now and then: room runs out mid-reading, positions wrap, and texts
  // longer than the text ring (or than its room) go another way.
  const a = { memory: ringMemory({ rows: 7, bytes: 24 }) };
  const b = { memory: ringMemory({ rows: 7, bytes: 24 }) };
  const wa = new RingWriter(a.memory), wb = new RingWriter(b.memory);
  const ra = new RingReader(a.memory), rb = new RingReader(b.memory);
  wa.live();
  wb.live();
  const sa = collector(), sb = collector();
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const texts = ["torr", "torr", "Pa", "a longer text than the text ring", "µbar", "millibar"];
  let stoppedAtName = 0, stoppedElse = 0;
  // What the reader must give back: texts through the small text ring intact.
  const expected: [number, number, Value][] = [];
  for (let reading = 0; reading < 400; reading++) {
    const values: Record<string, Value> = {};
    const count = 1 + rnd(5);
    for (let k = 0; k < count; k++) {
      // Now and then a name out of the shape's order.
      const name = rnd(10) === 0 ? names[rnd(5)]! : names[k]!;
      const kind = rnd(6);
      values[name] = kind === 0
        ? null
        : kind === 1
        ? rnd(2) === 0
        : kind === 2 || kind === 4
        ? texts[rnd(texts.length)]!
        : kind === 3
        ? [rnd(9), 0.5]
        : rnd(1000) / 8;
    }
    const keys = Object.keys(values);
    const idOf = (name: string) => ids[names.indexOf(name)]!;
    // add() one by one, retried after a drain when it finds no room (as the writer hands over).
    const addAll = (
      w: RingWriter,
      r: RingReader,
      s: ReturnType<typeof collector>,
      from: number,
    ) => {
      for (const name of keys.slice(from)) {
        if (!w.add(reading, idOf(name), values[name]!)) {
          w.commit();
          r.drain(s);
          if (!w.add(reading, idOf(name), values[name]!)) s.add(reading, idOf(name), values[name]!);
        }
      }
    };
    for (const name of keys) {
      const v = values[name]!;
      expected.push([
        reading,
        idOf(name),
        v === null
          ? NaN
          : typeof v === "boolean"
          ? (v ? 1 : 0)
          : Array.isArray(v)
          ? JSON.stringify(v)
          : v,
      ]);
    }
    addAll(wa, ra, sa, 0);
    const done = wb.putValues(reading, values, names, ids);
    if (done >= 0) assert.equal(done, keys.length);
    else {
      const k = -1 - done;
      if (k < keys.length && keys[k] !== names[k]) stoppedAtName++;
      else stoppedElse++;
      addAll(wb, rb, sb, k);
    }
    wa.commit();
    wb.commit();
    if (rnd(3) === 0) {
      ra.drain(sa);
      rb.drain(sb);
    }
  }
  ra.drain(sa);
  rb.drain(sb);
  assert.deepEqual(sa.rows, expected);
  assert.deepEqual(sb.rows, sa.rows);
  assert.equal(wb.put, wa.put);
  assert.ok(stoppedAtName > 0 && stoppedElse > 0, `${stoppedAtName} ${stoppedElse}`);
});
