import assert from "node:assert/strict";
import { evalInChild } from "../../tests/fixtures/deno_eval.ts";
import { onWakeWithin, sleepOnNodeTimer, Timer } from "./timer.ts";

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
  // A child process: no timer of another test is armed there.
  const timer = JSON.stringify(new URL("./timer.ts", import.meta.url).href);
  const code = `
    import { onTimeout, onWakeWithin, sleepOnNodeTimer } from ${timer};
    const t0 = performance.now();
    const log = [];
    const at = (what) => () => log.push([what, Math.round(performance.now() - t0)]);
    onTimeout(30, at("30"));
    onTimeout(60, at("60"));
    // 60 ms is the last timer armed within 5 s: it rides on it.
    onWakeWithin(5000, at("shared"));
    // Nothing armed within 10 ms: a timer of its own.
    onWakeWithin(10, at("own"));
    // Cancelled: never runs, and the timer it rode on still fires for the others.
    onWakeWithin(5000, at("cancelled"))();
    // A sleep on Node's timer is shared too.
    sleepOnNodeTimer(80).then(at("sleep"));
    onWakeWithin(90, at("with sleep"));
    setTimeout(() => {
      // Fired timers are not shared: a timer of its own again, at the latest 40 ms later.
      const t1 = performance.now();
      onWakeWithin(40, () => log.push(["after", Math.round(performance.now() - t1)]));
      setTimeout(() => console.log(JSON.stringify(log)), 200);
    }, 100);
  `;
  const stdout = await evalInChild(code);
  const log = JSON.parse(stdout);
  assert.deepEqual(
    log.map((e: [string, number]) => e[0]),
    ["own", "30", "60", "shared", "with sleep", "sleep", "after"],
  );
  const ms = Object.fromEntries(log);
  assert.ok(ms.shared >= 59 && ms.shared < 1000, `shared fired after ${ms.shared} ms`);
  assert.ok(ms["with sleep"] >= 79, `the sleep's rider fired after ${ms["with sleep"]} ms`);
  assert.ok(ms.after >= 39, `its own timer fired after ${ms.after} ms`);
});

Deno.test("sleepOnNodeTimer: an abort ends the sleep at once; its timer stays only for work riding on it", async () => {
  const alone = new AbortController();
  const t0 = performance.now();
  const p = sleepOnNodeTimer(10_000, alone.signal);
  alone.abort();
  await p;
  assert.ok(performance.now() - t0 < 1000, "the sleep did not end with the abort");
  // (Its timer was cleared: the test's timer sanitizer would report it otherwise.)

  const ridden = new AbortController();
  let rode = false;
  const q = sleepOnNodeTimer(50, ridden.signal);
  onWakeWithin(100, () => rode = true);
  ridden.abort();
  await q;
  await sleep(300);
  assert.equal(rode, true, "the work riding on an aborted sleep's timer did not run");
});
