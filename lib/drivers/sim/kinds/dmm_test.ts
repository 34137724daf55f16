import assert from "node:assert/strict";
import { parseAddress } from "../../../device/address.ts";
import { openSim } from "../driver.ts";
import { OVERLOAD } from "./dmm.ts";

Deno.test("dmm reads its DC input to a few ppm, and the AC input in AC mode", async () => {
  let t = 1_764_000_000_000;
  const d = await openSim(parseAddress("sim://dmm?seed=3"), {}, () => t);
  for (let i = 0; i < 100; i++, t += 3_001) {
    const v = (await d.read()).voltage as number;
    assert.ok(Math.abs(v - 1.2345) < 1e-3, `DC ${v}`);
  }
  await d.write("mode", "AC V");
  const ac = await d.read(["voltage", "mode", "range"]);
  assert.equal(ac.mode, "AC V");
  assert.equal(ac.range, "AUTO");
  assert.ok(Math.abs((ac.voltage as number) - 0.2301) < 1e-3);
  await d.close();
});

Deno.test("dmm range sets resolution; too small a range overloads", async () => {
  const d = await openSim(parseAddress("sim://dmm?dc=5&seed=1"));
  await d.write("range", "10 V");
  const v = (await d.read()).voltage as number;
  assert.ok(Math.abs(v - 5) < 1e-3);
  assert.ok((String(v).split(".")[1] ?? "").length <= 5, `5 decimals on the 10 V range: ${v}`);
  await d.write("range", "1 V");
  assert.equal((await d.read()).voltage, OVERLOAD);
  await assert.rejects(() => d.write("range", "3 V"), /not one of/);
  await assert.rejects(() => d.write("mode", "OHM"), /not one of/);
  await d.close();
});
