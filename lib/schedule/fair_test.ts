import assert from "node:assert/strict";
import { fairTurn, starving } from "./fair.ts";

Deno.test("fairTurn lets timers run inside a loop that only awaits resolved promises", async () => {
  let fired = false;
  setTimeout(() => (fired = true), 1);
  const end = performance.now() + 5000;
  let steps = 0;
  while (!fired && performance.now() < end) {
    await fairTurn();
    await Promise.resolve(); // a zero-latency device call
    steps++;
  }
  assert.ok(fired, `the timer never ran in ${steps} steps`);
});

Deno.test("a loop without fairTurn starves timers (what fairTurn is for)", async () => {
  let fired = false;
  setTimeout(() => (fired = true), 1);
  const end = performance.now() + 50;
  while (performance.now() < end) await Promise.resolve();
  assert.equal(fired, false);
  // ...and starving() says so once the budget is spent.
  starving(10);
  const spin = performance.now() + 15;
  while (performance.now() < spin) await Promise.resolve();
  assert.equal(starving(10), true);
  await fairTurn(10);
  assert.equal(fired, true);
});
