import assert from "node:assert/strict";
import { parseAddress } from "../../../device/address.ts";
import { WriteRejected } from "../../../device/errors.ts";
import { openSim } from "../driver.ts";

const T0 = 1_764_000_000_000;

Deno.test("thermo holds its setpoint and relaxes to a new one with its time constant", async () => {
  let t = T0;
  const th = await openSim(parseAddress("sim://thermo?seed=2&tau=10"), {}, () => t);
  const temp = async () => (await th.read(["temperature"])).temperature as number;
  assert.ok(Math.abs((await temp()) - 25) < 0.1);
  await th.write("setpoint", 35);
  assert.equal((await th.read(["setpoint"])).setpoint, 35);
  t += 10_000; // one time constant: 63 % of the way
  assert.ok(Math.abs((await temp()) - (35 - 10 * Math.exp(-1))) < 0.1);
  t += 100_000;
  assert.ok(Math.abs((await temp()) - 35) < 0.1);
  await th.write("heater", false);
  t += 200_000;
  assert.ok(Math.abs((await temp()) - 22) < 0.1, "heater off: back to ambient");
  await th.close();
});

Deno.test("thermo setpoint has declared limits that refuse writes", async () => {
  const th = await openSim(parseAddress("sim://thermo"));
  const sp = (await th.attrs()).find((a) => a.name === "setpoint");
  assert.equal(sp?.units, "°C");
  assert.equal(sp?.min, -20);
  assert.equal(sp?.max, 150);
  await assert.rejects(() => th.write("setpoint", 500), WriteRejected);
  await assert.rejects(() => th.write("temperature", 20), /read-only/);
  await th.close();
});
