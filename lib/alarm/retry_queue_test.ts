import assert from "node:assert/strict";
import { RetryQueue } from "./retry_queue.ts";

/** A sleep that records requested delays and resolves at once. */
function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: (ms: number) => (delays.push(ms), Promise.resolve()) };
}

Deno.test("failed deliveries are retried with exponential backoff, capped, then given up", async () => {
  const { delays, sleep } = recordingSleep();
  const log: string[] = [];
  let attempts = 0;
  const q = new RetryQueue<number>("flaky", () => {
    attempts++;
    return Promise.reject(new Error("connection refused"));
  }, { retries: 5, baseDelay: 100, maxDelay: 1000, sleep, log: (l) => log.push(l) });
  q.push(1);
  await q.drained();
  await q.close(1000);
  assert.equal(attempts, 6);
  assert.deepEqual(delays, [100, 200, 400, 800, 1000]);
  assert.deepEqual(q.stats(), { delivered: 0, failed: 1, dropped: 0, retried: 5, queued: 0 });
  assert.match(
    log[0]!,
    /notify flaky: delivery of 1 item failed \(attempt 1\/6\): connection refused; retrying in 100 ms/,
  );
  assert.match(log.at(-1)!, /failed 6 times: connection refused; giving up/);
});

Deno.test("a delivery that recovers is counted once and later items follow in order", async () => {
  const { sleep } = recordingSleep();
  const got: number[] = [];
  let fail = 2;
  const q = new RetryQueue<number>("recovering", (items) => {
    if (fail-- > 0) return Promise.reject(new Error("HTTP 503"));
    got.push(...items);
    return Promise.resolve();
  }, { sleep, log: () => {} });
  for (const i of [1, 2, 3]) q.push(i);
  await q.drained();
  await q.close(1000);
  assert.deepEqual(got, [1, 2, 3]);
  assert.deepEqual(q.stats(), { delivered: 3, failed: 0, dropped: 0, retried: 2, queued: 0 });
});

Deno.test("push never waits: a hanging sink fills the bounded queue, dropping the oldest", async () => {
  const log: string[] = [];
  const started: number[][] = [];
  const q = new RetryQueue<number>("hanging", (items, signal) => {
    started.push(items);
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  }, { capacity: 3, maxBatch: 2, timeout: 60_000, log: (l) => log.push(l) });
  for (let i = 0; i < 10; i++) q.push(i); // returns synchronously every time
  assert.deepEqual(started, [], "push itself delivers nothing");
  assert.equal(q.stats().queued, 3);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(started, [[7, 8]], "the worker took the newest survivors as one batch");
  assert.equal(q.stats().queued, 3, "two in flight, one waiting");
  assert.equal(q.stats().dropped, 7);
  assert.equal(log.filter((l) => l.includes("queue full")).length, 1, "one log line per burst");
  await q.close(20); // aborts the hanging attempt at the deadline
  const s = q.stats();
  assert.equal(s.failed, 3, "the in-flight batch and the waiting item are given up");
  assert.equal(s.delivered, 0);
  assert.ok(log.some((l) => l.includes("closed with 1 undelivered item")));
  q.push(99);
  assert.equal(q.stats().queued, 0, "a closed queue ignores pushes");
});

Deno.test("an attempt that outlives the timeout is a failure and is retried", async () => {
  const { delays, sleep } = recordingSleep();
  let calls = 0;
  const q = new RetryQueue<string>("slow", (_items, signal) => {
    calls++;
    if (calls === 1) {
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    }
    return Promise.resolve();
  }, { timeout: 10, retries: 1, baseDelay: 5, sleep, log: () => {} });
  q.push("x");
  await q.drained();
  await q.close(5000);
  assert.equal(calls, 2);
  assert.deepEqual(delays, [5]);
  assert.equal(q.stats().delivered, 1);
});
