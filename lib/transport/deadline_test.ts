import assert from "node:assert/strict";
import { Deadlines } from "./deadline.ts";

Deno.test("removed deadlines never fire; the others do", async () => {
  const d = new Deadlines();
  const fired: string[] = [];
  const all = Promise.all([
    new Promise<void>((r) => d.add(20, () => (fired.push("a"), r()))),
    new Promise<void>((r) => d.add(40, () => (fired.push("c"), r()))),
  ]);
  const b = d.add(10, () => fired.push("b"));
  d.remove(b);
  assert.equal(d.size, 2);
  await all;
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(fired.sort(), ["a", "c"]);
  assert.equal(d.size, 0);
});

Deno.test("a deadline earlier than the armed one moves the timer", async () => {
  const d = new Deadlines();
  let late = false;
  const far = d.add(2000, () => late = true);
  await new Promise<void>((r) => d.add(10, r));
  assert.equal(late, false);
  d.remove(far);
});

Deno.test("a deadline is never early", async () => {
  const d = new Deadlines();
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const at = await new Promise<number>((resolve) => d.add(15, () => resolve(performance.now())));
    assert.ok(at - start >= 15, `fired after ${at - start} ms`);
  }
});

Deno.test("hundreds of deadlines ended out of order: the count stays right, the live ones fire", async () => {
  const d = new Deadlines();
  const fired: number[] = [];
  const all = Array.from(
    { length: 300 },
    (_, i) => d.add(i % 3 === 0 ? 30 : 5000, () => fired.push(i)),
  );
  // End two in three (the long ones), from the back and the front alternately.
  const ends = all.filter((_, i) => i % 3 !== 0);
  for (let k = 0; ends.length > 0; k++) d.remove(k % 2 ? ends.pop()! : ends.shift()!);
  assert.equal(d.size, 100);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(fired.sort((a, b) => a - b), all.map((_, i) => i).filter((i) => i % 3 === 0));
  assert.equal(d.size, 0);
  for (const x of all) d.remove(x); // removing an ended deadline again is harmless
  assert.equal(d.size, 0);
});

Deno.test("a deadline counts from the start given, else from now", () => {
  const d = new Deadlines();
  const from = performance.now() - 1000;
  const given = d.add(5000, () => {}, undefined, from);
  assert.equal(given.at, from + 5000);
  const before = performance.now();
  const now = d.add(5000, () => {});
  assert.ok(now.at >= before + 5000 && now.at <= performance.now() + 5000);
  d.remove(given);
  d.remove(now);
});
