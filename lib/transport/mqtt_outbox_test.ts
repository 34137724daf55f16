import assert from "node:assert/strict";
import { Outbox, type OutMessage } from "./mqtt_outbox.ts";

const msg = (topic: string, payload: string, retain = false): OutMessage => ({
  topic,
  payload,
  qos: 0,
  retain,
});

Deno.test("Outbox keeps the newest messages up to its bound and counts the dropped", () => {
  const box = new Outbox(3);
  for (let i = 0; i < 10; i++) box.push(msg("r", String(i)));
  assert.equal(box.size, 3);
  assert.equal(box.dropped, 7);
  assert.deepEqual(box.take().map((m) => m.payload), ["7", "8", "9"]);
  assert.equal(box.size, 0);
});

Deno.test("Outbox keeps one retained message per topic, the newest, after the queued ones", () => {
  const box = new Outbox(10);
  box.push(msg("v/a", "1", true));
  box.push(msg("r", "x"));
  box.push(msg("v/a", "2", true));
  box.push(msg("v/b", "3", true));
  assert.equal(box.size, 3);
  assert.equal(box.dropped, 0, "a replaced retained value is not a loss");
  assert.deepEqual(box.take().map((m) => `${m.topic}=${m.payload}`), ["r=x", "v/a=2", "v/b=3"]);
});

Deno.test("Outbox drops queued messages before retained values, then the oldest retained", () => {
  const box = new Outbox(2);
  box.push(msg("v/a", "1", true));
  box.push(msg("r", "x"));
  box.push(msg("v/b", "2", true));
  assert.deepEqual(box.take().map((m) => m.topic), ["v/a", "v/b"]);
  box.push(msg("v/a", "1", true));
  box.push(msg("v/b", "2", true));
  box.push(msg("v/c", "3", true));
  assert.equal(box.dropped, 2);
  assert.deepEqual(box.take().map((m) => m.topic), ["v/b", "v/c"]);
  assert.throws(() => new Outbox(0), RangeError);
});

Deno.test("Outbox stays bounded through a long outage (the array is compacted)", () => {
  const box = new Outbox(100);
  for (let i = 0; i < 100_000; i++) box.push(msg("r", String(i)));
  assert.equal(box.size, 100);
  assert.equal(box.dropped, 99_900);
  const left = box.take();
  assert.equal(left[0]!.payload, "99900");
  assert.equal(left.length, 100);
});
