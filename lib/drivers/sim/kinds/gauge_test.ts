import assert from "node:assert/strict";
import { parseAddress } from "../../../device/address.ts";
import { openSim } from "../driver.ts";

const T0 = 1_764_000_000_000;

Deno.test("gauge pressure stays near its setpoint in torr for an hour", async () => {
  let t = T0;
  const g = await openSim(parseAddress("sim://gauge?seed=4"), {}, () => t);
  for (; t < T0 + 3_600_000; t += 7_013) {
    const v = await g.read();
    assert.equal(v.pressure_units, "torr");
    const p = v.pressure as number;
    assert.ok(p > 0.75 * 0.97 && p < 0.75 * 1.03, `pressure ${p}`);
  }
  const [pressure] = await g.attrs();
  assert.equal(pressure?.units, "torr");
  assert.equal(pressure?.precision, 4);
  await g.close();
});

Deno.test("gauge setpoint and units options, with precision to match", async () => {
  const g = await openSim(parseAddress("sim://gauge?setpoint=2e-6&units=mbar&seed=1"));
  const v = await g.read();
  assert.equal(v.pressure_units, "mbar");
  assert.ok(Math.abs((v.pressure as number) - 2e-6) < 1e-7);
  assert.equal((await g.attrs())[0]?.precision, 9);
  await g.close();
});
