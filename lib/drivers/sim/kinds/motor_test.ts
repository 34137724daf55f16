import assert from "node:assert/strict";
import { parseAddress } from "../../../device/address.ts";
import { WriteRejected } from "../../../device/errors.ts";
import { openSim } from "../driver.ts";

Deno.test("a move takes time at the velocity and ends at the target", async () => {
  let t = 1_000_000;
  const m = await openSim(parseAddress("sim://motor?id=mt1&velocity=2"), {}, () => t);
  assert.deepEqual(await m.read(), { position: 0, readback: 0, moving: false });
  await m.write("position", 3);
  t += 500;
  assert.deepEqual(await m.read(), { position: 3, readback: 1, moving: true });
  assert.equal(await m.isMoving!(), true);
  assert.equal((await m.read(["status"])).status, "moving");
  t += 1000;
  assert.deepEqual(await m.read(), { position: 3, readback: 3, moving: false });
  assert.equal(await m.isMoving!(), false);
  assert.deepEqual(m.techniques(), ["move"]);
  await m.close();
});

Deno.test("a real-time move finishes at the target and stops being busy", async () => {
  const m = await openSim(parseAddress("sim://motor?id=mt2&velocity=500"));
  await m.write("position", -4);
  while (await m.isMoving!()) await new Promise((r) => setTimeout(r, 2));
  assert.equal((await m.read(["readback"])).readback, -4);
  await m.close();
});

Deno.test("stop and velocity writes act on the shared motor", async () => {
  let t = 0;
  const m = await openSim(parseAddress("sim://motor?id=mt3"), {}, () => t);
  assert.equal((await m.read(["velocity"])).velocity, 10);
  await m.write("position", 10);
  t = 200;
  await m.write("stop", true);
  t = 5000;
  assert.deepEqual(await m.read(), { position: 2, readback: 2, moving: false });
  await m.write("velocity", 100);
  await m.write("position", 4);
  t = 5010;
  assert.equal((await m.read(["readback"])).readback, 3);
  await m.close();
});

Deno.test("limits are declared, default to ±100 and can be overridden", async () => {
  const m = await openSim(parseAddress("sim://motor?id=mt4"));
  const pos = (await m.attrs()).find((a) => a.name === "position")!;
  assert.equal(pos.min, -100);
  assert.equal(pos.max, 100);
  assert.equal(pos.units, "mm");
  await assert.rejects(() => m.write("position", 150), WriteRejected);
  await m.close();
  const n = await openSim(parseAddress("sim://motor?id=mt5&min=-2&max=8"));
  const p = (await n.attrs()).find((a) => a.name === "position")!;
  assert.equal(p.min, -2);
  assert.equal(p.max, 8);
  await assert.rejects(() => n.write("position", 9), /above the upper limit 8 mm/);
  await assert.rejects(() => openSim(parseAddress("sim://motor?id=mt6&min=5&max=1")), /below max/);
  await n.close();
});

Deno.test("two devices on one motor id see the same motor", async () => {
  let t = 0;
  const a = await openSim(parseAddress("sim://motor?id=shared&velocity=1000"), {}, () => t);
  const b = await openSim(parseAddress("sim://motor?id=shared"), {}, () => t);
  await a.write("position", 7);
  t = 100;
  assert.equal((await b.read(["readback"])).readback, 7);
  await a.close();
  await b.close();
});

Deno.test("a very fast motor is done as soon as the write returns", async () => {
  const m = await openSim(parseAddress("sim://motor?id=fast&velocity=1e9"));
  for (let x = 1; x <= 20; x++) {
    await m.write("position", x / 10);
    assert.equal(await m.isMoving!(), false);
    assert.equal((await m.read(["readback"])).readback, x / 10);
  }
  await m.close();
});
