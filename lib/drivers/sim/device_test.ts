import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { parseAddress } from "../../device/address.ts";
import { DeviceError, TimeoutError } from "../../device/errors.ts";
import { createSim } from "./driver.ts";
import { preciseAt } from "./noise.ts";

const sim = (address: string, timeout?: number) => createSim(parseAddress(address), { timeout });

/** The values of `sim://gauge?seed=9` at `mono` (a `performance.now()`), on a fixed clock. */
function valuesAt(mono: number): unknown {
  const fixed = createSim(parseAddress("sim://gauge?seed=9"), {}, () => preciseAt(mono));
  let out: unknown;
  fixed.readTo(undefined, undefined, (v) => out = v, (e) => out = e);
  return out;
}

Deno.test("latency delays the answer; a timeout shorter than it fails the call", async () => {
  const g = sim("sim://gauge?latency=5ms&seed=1");
  assert.equal((await g.read()).pressure_units, "torr");
  const slow = sim("sim://gauge?latency=500ms");
  await assert.rejects(() => slow.read(undefined, { timeout: 20 }), TimeoutError);
  assert.equal(slow.inFlight, 0, "the abandoned call no longer counts as in flight");
  await g.close();
  await slow.close();
});

Deno.test("timeout_rate: the device never answers, until the deadline or the caller aborts", async () => {
  const d = sim("sim://dmm?timeout_rate=1", 30);
  await assert.rejects(() => d.read(), (e: unknown) => {
    assert.ok(e instanceof TimeoutError);
    assert.match(e.message, /read sim:\/\/dmm\?timeout_rate=1: no answer within 30 ms/);
    return true;
  });
  const c = new AbortController();
  const pending = d.read(undefined, { signal: c.signal, timeout: 60_000 });
  c.abort(new Error("user pressed Ctrl-C"));
  await assert.rejects(pending, /user pressed Ctrl-C/);
  await d.close();
});

Deno.test("error_rate answers with a device error (not a timeout)", async () => {
  const d = sim("sim://thermo?error_rate=1");
  await assert.rejects(() => d.read(), (e: unknown) => {
    assert.ok(e instanceof DeviceError && !(e instanceof TimeoutError));
    assert.match(e.message, /device answered "ERR/);
    return true;
  });
  await assert.rejects(() => d.write("setpoint", 30), DeviceError);
  await d.close();
});

Deno.test("garbage_rate: the garbled answer is detected and reported as garbage", async () => {
  const d = sim("sim://gauge?garbage_rate=1&seed=2");
  for (let i = 0; i < 20; i++) {
    await assert.rejects(() => d.read(), (e: unknown) => {
      assert.ok(e instanceof DeviceError);
      assert.match(e.message, /^garbage response from sim:\/\/gauge/);
      return true;
    });
  }
  await d.close();
});

Deno.test("disconnects refuse connections for disconnect_for", async () => {
  const d = sim("sim://motor?id=dc&disconnect_rate=0.2&disconnect_for=1h&seed=4");
  let first = -1;
  for (let i = 0; i < 100 && first < 0; i++) {
    await d.read().catch((e) => {
      assert.match(String(e), /connection refused/);
      first = i;
    });
  }
  assert.ok(first >= 0, "a disconnect happened");
  for (let i = 0; i < 20; i++) {
    await assert.rejects(() => d.read(), /connection refused \(simulated disconnect, back in /);
  }
  await d.close();
});

Deno.test("rates are fractions of calls, reproducible with a seed", async () => {
  const failures = async () => {
    const d = sim("sim://bank?channels=2&error_rate=0.3&seed=9");
    let n = 0;
    for (let i = 0; i < 300; i++) await d.read().catch(() => n++);
    await d.close();
    return n;
  };
  const n = await failures();
  assert.ok(n > 60 && n < 120, `${n} of 300 failed`);
  assert.equal(await failures(), n);
});

Deno.test("faults do not change the values a seed gives", async () => {
  const t = 1_764_000_000_000;
  const plain = createSim(parseAddress("sim://gauge?seed=5"), {}, () => t);
  const slow = createSim(parseAddress("sim://gauge?seed=5&latency=1ms"), {}, () => t);
  assert.deepEqual(await slow.read(), await plain.read());
  await plain.close();
  await slow.close();
});

Deno.test("overlapping calls are counted, and refused with strict=1", async () => {
  const d = sim("sim://gauge?latency=20ms");
  await Promise.all([d.read(), d.read(), d.read()]);
  assert.equal(d.overlaps, 2);
  await d.read();
  await d.read();
  assert.equal(d.overlaps, 2, "calls one after another do not overlap");
  assert.equal(d.calls, 5);

  const s = sim("sim://motor?id=ov&latency=20ms&strict=1");
  const first = s.read();
  await assert.rejects(() => s.write("position", 1), (e: unknown) => {
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, /interleaved I\/O/);
    return true;
  });
  assert.equal((await first).position, 0);
  assert.equal(s.overlaps, 1);
  await s.write("position", 1); // after the first call ended: fine
  await d.close();
  await s.close();
});

Deno.test("calls honour an already aborted signal, and a closed device refuses calls", async () => {
  const d = sim("sim://dmm");
  const c = new AbortController();
  c.abort(new Error("stopped"));
  await assert.rejects(() => d.read(undefined, { signal: c.signal }), /stopped/);
  await assert.rejects(() => d.attrs({ signal: c.signal }), /stopped/);
  await d.close();
  await assert.rejects(() => d.read(), /device is closed/);
});

Deno.test("unknown attributes are usage errors listing the device's attributes", async () => {
  const d = sim("sim://gauge");
  await assert.rejects(() => d.read(["presure"]), /has no attribute "presure"; it has: pressure/);
  await assert.rejects(() => d.write("pressure", 1), /read-only/);
  await d.close();
});

Deno.test("readTo: with no fault the values come before it returns, taken at the caller's time; with one, later", async () => {
  const a = sim("sim://gauge?seed=9");
  const b = sim("sim://gauge?seed=9");
  const got: unknown[] = [];
  // Ahead of every earlier call of this process, which a model time never goes back before.
  const at = performance.now() + 5;
  a.readTo(undefined, undefined, (v) => got.push(v), (e) => got.push(e), at);
  b.readTo(undefined, undefined, (v) => got.push(v), (e) => got.push(e), at);
  assert.equal(got.length, 2, "answered before readTo returned");
  assert.deepEqual(got[0], valuesAt(at), "at the caller's time");
  assert.deepEqual(got[1], got[0], "the same values at the same time");
  await new Promise((r) => setTimeout(r, 20));
  const before = performance.now();
  a.readTo(undefined, undefined, (v) => got.push(v), (e) => got.push(e));
  const after = performance.now();
  // The clock was read somewhere in between; a gauge's noise changes once a millisecond.
  const now = Array.from({ length: 101 }, (_, i) => valuesAt(before + (after - before) * i / 100));
  assert.ok(now.some((v) => isDeepStrictEqual(v, got[2])), "without a time: now");
  assert.equal(a.calls, 2);
  const c = new AbortController();
  c.abort(new Error("stopped"));
  a.readTo(undefined, { signal: c.signal }, (v) => got.push(v), (e) => got.push(e), at);
  assert.match(String(got[3]), /stopped/);
  const slow = sim("sim://gauge?latency=2ms");
  const answer = new Promise((resolve, reject) =>
    slow.readTo(undefined, undefined, resolve, reject)
  );
  assert.equal(slow.inFlight, 1, "not answered yet");
  assert.equal(((await answer) as { pressure_units: string }).pressure_units, "torr");
  await a.close();
  a.readTo(undefined, undefined, (v) => got.push(v), (e) => got.push(e));
  await new Promise((r) => setTimeout(r, 0));
  assert.match(String(got[4]), /device is closed/);
  await b.close();
  await slow.close();
});

Deno.test("only positioners have isMoving", async () => {
  const g = sim("sim://gauge");
  const m = sim("sim://motor?id=im");
  assert.equal(g.isMoving, undefined);
  assert.equal(await m.isMoving!(), false);
  await g.close();
  await m.close();
});

Deno.test("readTo: a simulator's time never goes back, for one device or across devices", async () => {
  const a = sim("sim://gauge?seed=9");
  const b = sim("sim://gauge?seed=9");
  const c = sim("sim://gauge?seed=9");
  // A later time whose values differ from `at`'s: a gauge's 4 digits repeat now and then.
  const got: unknown[] = [];
  const push = (v: unknown) => got.push(v);
  const at = performance.now() + 20;
  let later = at + 20;
  while (isDeepStrictEqual(valuesAt(later), valuesAt(at))) later += 1;
  a.readTo(undefined, undefined, push, push, at);
  assert.deepEqual(got[0], valuesAt(at), "the caller's time");
  // A caller's time up to a few ms before another call's (a wall clock reading standing for the
  // monotonic one) is taken at that call's time: a read after a write never sees before it.
  b.readTo(undefined, undefined, push, push, at - 3);
  assert.deepEqual(got[1], got[0], "at the later call's time");
  c.readTo(undefined, undefined, push, push, later);
  assert.deepEqual(got[2], valuesAt(later), "a later time is taken as it is");
  await a.close();
  await b.close();
  await c.close();
});
