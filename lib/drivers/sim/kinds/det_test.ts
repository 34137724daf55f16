import assert from "node:assert/strict";
import { parseAddress } from "../../../device/address.ts";
import { openSim } from "../driver.ts";
import { world } from "../world.ts";

Deno.test("det counts peak at motor position 5 over a low background", async () => {
  let t = 1_764_000_000_000;
  const m = await openSim(parseAddress("sim://motor?id=pk&velocity=1e6"), {}, () => t);
  const d = await openSim(parseAddress("sim://det?motor=pk&seed=5"), {}, () => t);
  let best = { x: NaN, counts: -1 };
  for (let x = 0; x <= 10; x += 0.5) {
    await m.write("position", x);
    t += 10;
    const counts = (await d.read()).counts as number;
    assert.ok(Number.isInteger(counts) && counts >= 0);
    if (counts > best.counts) best = { x, counts };
  }
  assert.equal(best.x, 5);
  assert.ok(best.counts > 900 && best.counts < 1120, `peak ${best.counts}`);
  await m.write("position", -50);
  t += 10;
  assert.ok(((await d.read()).counts as number) < 30, "background far from the peak");
  await d.close();
  await m.close();
});

Deno.test("count_time scales the counts", async () => {
  let t = 1_764_000_000_000;
  const m = await openSim(parseAddress("sim://motor?id=ct&velocity=1e6"), {}, () => t);
  const d = await openSim(parseAddress("sim://det?motor=ct&seed=1"), {}, () => t);
  await m.write("position", 5);
  t += 10;
  await d.write("count_time", 0.1);
  const short = (await d.read()).counts as number;
  assert.ok(short > 70 && short < 135, `0.1 s: ${short}`);
  await assert.rejects(() => d.write("count_time", 0), /below the lower limit/);
  await d.close();
  await m.close();
});

Deno.test("sim://det alone creates its motor in the world, and lets it go on close", async () => {
  const d = await openSim(parseAddress("sim://det?motor=lonely"));
  assert.ok(world.motorIds().includes("lonely"));
  assert.ok(((await d.read()).counts as number) < 40, "motor at 0: background only");
  await d.close();
  assert.ok(!world.motorIds().includes("lonely"));
});
