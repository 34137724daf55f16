import assert from "node:assert/strict";
import { parseAddress } from "../../../device/address.ts";
import { openSim } from "../driver.ts";
import { countTimers } from "../../../../tests/fixtures/timer_count.ts";

Deno.test("bank has N channels ch0…chN-1 with values in about [-1, 1]", async () => {
  let t = 1_764_000_000_000;
  const b = await openSim(parseAddress("sim://bank?channels=12&seed=8"), {}, () => t);
  const names = (await b.attrs()).map((a) => a.name);
  assert.deepEqual(names, Array.from({ length: 12 }, (_, i) => `ch${i}`));
  for (let k = 0; k < 50; k++, t += 1_234) {
    const v = await b.read();
    assert.equal(Object.keys(v).length, 12);
    for (const x of Object.values(v)) assert.ok(Math.abs(x as number) < 1.1);
  }
  await b.close();
});

Deno.test("bank reads answer without creating any timer", async () => {
  const b = await openSim(parseAddress("sim://bank?channels=10"));
  const timers = await countTimers(async () => {
    for (let i = 0; i < 100; i++) await b.read(undefined, { timeout: 1000 });
  });
  // an instant answer never waits for a timer (loops take their fair turns themselves)
  assert.equal(timers, 0, `${timers} timers for 100 reads`);
  await assert.rejects(() => openSim(parseAddress("sim://bank?channels=0")), /channels must be/);
  await b.close();
});
