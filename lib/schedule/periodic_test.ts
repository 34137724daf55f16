import assert from "node:assert/strict";
import { Schedule } from "./periodic.ts";

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* a stalled loop body */ }
}

Deno.test("10,000 ticks at 1 ms with stalls: deadlines stay on the grid and overruns are counted", async () => {
  const start = performance.now() + 5;
  const schedule = new Schedule(1, { count: 10_000, start });
  let delivered = 0;
  let reportedMissed = 0;
  let lastIndex = -1;
  for await (const tick of schedule) {
    // Absolute deadlines: tick k is due at start + k ms exactly, whatever happened before.
    assert.equal(tick.deadline, start + tick.index);
    assert.ok(tick.index > lastIndex);
    assert.equal(tick.index - lastIndex - 1, tick.missed, "every skipped deadline is reported");
    lastIndex = tick.index;
    delivered++;
    reportedMissed += tick.missed;
    if (tick.index % 1000 === 500) busyWait(20);
  }
  // Deadlines skipped at the very end (no tick follows them) are in the stats only.
  assert.equal(delivered + schedule.stats.missed, 10_000);
  assert.ok(schedule.stats.missed >= reportedMissed);
  // Ten stalls of 20 ms each cover at least 19 deadlines each.
  assert.ok(schedule.stats.missed >= 10 * 19, `missed ${schedule.stats.missed}`);
  assert.equal(schedule.stats.ticks, delivered);
});

Deno.test("a schedule stops on its signal and after its duration", async () => {
  const ctrl = new AbortController();
  let n = 0;
  for await (const _ of new Schedule(2, { signal: ctrl.signal })) {
    if (++n === 3) ctrl.abort();
  }
  assert.equal(n, 3);
  // Deadlines at 0, 10, 20, 30 ms fall inside 35 ms; on a loaded machine some may be missed,
  // but each is then reported, and none beyond the duration is delivered.
  let delivered = 0;
  const schedule = new Schedule(10, { duration: 35 });
  for await (const t of schedule) {
    assert.ok(t.index <= 3);
    delivered++;
  }
  assert.equal(delivered + schedule.stats.missed, 4);
});

Deno.test("an overrun past the end of the duration counts only the deadlines within it", async () => {
  const schedule = new Schedule(10, { duration: 30 });
  const seen: number[] = [];
  for await (const tick of schedule) {
    seen.push(tick.index);
    const until = performance.now() + 100;
    while (performance.now() < until) { /* busy */ }
  }
  assert.deepEqual(seen, [0]);
  assert.equal(schedule.stats.missed, 2);
});

Deno.test("a duration that is a whole number of intervals ends before its last deadline, wherever the start falls", async () => {
  // A start whose float sum with the duration rounds down: (start + 100) - start < 100.
  let start = performance.now() + 20;
  for (let i = 0; start + 100 - start >= 100; i++) start = performance.now() + 20 + i * 0.001;
  const schedule = new Schedule(20, { duration: 100, start });
  let delivered = 0;
  for await (const tick of schedule) {
    assert.ok(tick.index < 5, `tick ${tick.index} at the end of the duration`);
    delivered++;
  }
  assert.equal(delivered + schedule.stats.missed, 5);
});
