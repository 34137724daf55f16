import assert from "node:assert/strict";
import { onTimeout, onWakeWithin, Timer } from "./timer.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) =>
    AbortSignal.timeout(ms).addEventListener("abort", () => resolve())
  );
}

Deno.test("a started timer fires once, after its time", async () => {
  const fired: number[] = [];
  const t0 = performance.now();
  const t = new Timer(() => fired.push(performance.now() - t0));
  t.start(20);
  assert.equal(t.pending, true);
  await sleep(60);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 19, `fired after ${fired[0]} ms`);
  assert.equal(t.pending, false);
});

Deno.test("a cancelled or restarted timer does not fire for the old time", async () => {
  let fired = 0;
  const t = new Timer(() => fired++);
  t.start(10);
  t.cancel();
  assert.equal(t.pending, false);
  t.start(10);
  t.start(40); // restarting replaces the first arming
  await sleep(25);
  assert.equal(fired, 0);
  await sleep(40);
  assert.equal(fired, 1);
});

Deno.test("an unref'd timer does not fire until ref'd; ref after its time fires at once", async () => {
  let fired = 0;
  const t = new Timer(() => fired++);
  t.start(5);
  t.unref();
  await sleep(30);
  assert.equal(fired, 0, "an unref'd timer fired");
  assert.equal(t.pending, true);
  t.ref();
  t.ref(); // twice: still one firing
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(fired, 1);
  assert.equal(t.pending, false);
});

Deno.test("a timer does not load Node's timers (the reason it exists); setTimeout does", async () => {
  // Child processes: this test runner has loaded them already.
  const loads = async (code: string) => {
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, code);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--log-level=debug", file],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "fired");
      return new TextDecoder().decode(out.stderr).includes("ext:deno_node/internal/timers");
    } finally {
      await Deno.remove(file);
    }
  };
  const timer = JSON.stringify(new URL("./timer.ts", import.meta.url).href);
  assert.equal(
    await loads(`import { Timer } from ${timer}; new Timer(() => console.log("fired")).start(1);`),
    false,
  );
  assert.equal(await loads(`setTimeout(() => console.log("fired"), 1);`), true);
});

Deno.test("onWakeWithin shares the last timer armed within its time, or arms its own", async () => {
  const order: string[] = [];
  onTimeout(30, () => order.push("30"));
  onTimeout(60, () => order.push("60"));
  const t0 = performance.now();
  let at = 0;
  // 60 ms is the last armed timer within 5 s: it fires with it, not 5 s later.
  const shared = onWakeWithin(5000, () => {
    at = performance.now() - t0;
    order.push("shared");
  });
  // Nothing armed within 10 ms: a timer of its own.
  onWakeWithin(10, () => order.push("own"));
  await sleep(200);
  assert.deepEqual(order, ["own", "30", "60", "shared"]);
  assert.ok(at >= 59 && at < 2000, `fired after ${at} ms`);
  assert.equal(shared.aborted, true);
  // A fired timer is not shared any more: a later call waits for one of its own.
  const fired: number[] = [];
  const t1 = performance.now();
  onWakeWithin(40, () => fired.push(performance.now() - t1));
  await sleep(100);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 39, `fired after ${fired[0]} ms`);
});
