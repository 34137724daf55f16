import assert from "node:assert/strict";
import { fairTurn, starving, TurnQueue } from "./fair.ts";

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

Deno.test("streams sharing a TurnQueue let the event loop turn and take steps in turn", async () => {
  const turns = new TurnQueue(2);
  // A chain of timers: each link runs only when the event loop gets back to its timers.
  let ticks = 0;
  const chain = new Promise<void>((done) => {
    const tick = () => (++ticks === 5 ? done() : setTimeout(tick, 0));
    setTimeout(tick, 0);
  });
  let running = true;
  chain.then(() => (running = false));
  const steps = [0, 0, 0, 0, 0, 0, 0, 0];
  // Eight streams whose every step is ready at once (a zero-latency read) and takes a while.
  await Promise.all(steps.map(async (_, i) => {
    while (running) {
      await turns.next();
      const until = performance.now() + 0.3;
      while (performance.now() < until) { /* work of one step */ }
      steps[i]!++;
    }
  }));
  assert.equal(ticks, 5);
  // Oldest waiter first: no stream got ahead of another by more than a step or two.
  assert.ok(Math.max(...steps) - Math.min(...steps) <= 2, `steps ${steps}`);
  assert.ok(Math.min(...steps) > 0, `steps ${steps}`);
});

Deno.test("a lone stream of a TurnQueue runs on while the event loop turns", async () => {
  const turns = new TurnQueue(2);
  for (let i = 0; i < 1000; i++) await turns.next();
  assert.equal(turns.waiting, 0);
  // After a real turn of the loop, the next step goes at once.
  await new Promise((r) => setTimeout(r, 0));
  let resolved = false;
  turns.next().then(() => (resolved = true));
  await Promise.resolve();
  assert.equal(resolved, true);
});
