import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import type { Reading } from "../device/device.ts";
import { Lab } from "./lab.ts";
import { Sampler } from "./sampler.ts";

Deno.test("the sampler reads every device on each tick and publishes the readings", async () => {
  const lab = await Lab.open(parseConfig(`[devices.a]
address = "sim://gauge"
interval = "10ms"
[devices.b]
address = "sim://thermo"
interval = "10ms"
[devices.c]
address = "sim://dmm"
interval = "25ms"
`));
  try {
    const seen: Reading[] = [];
    for (const m of lab.managers) m.onReading((r) => seen.push(r));
    const sampler = new Sampler(lab, { count: 4 });
    await sampler.run();
    const by = (d: string) => seen.filter((r) => r.device === d).length;
    assert.deepEqual([by("a"), by("b"), by("c")], [4, 4, 4]);
    assert.equal(sampler.stats.expected, 12);
    assert.equal(sampler.stats.started + sampler.stats.missed, 12);
  } finally {
    await lab.close();
  }
});

Deno.test("a failing device is retried with backoff while others go on", async () => {
  const lab = await Lab.open(parseConfig(`[devices.bad]
address = "sim://gauge?error_rate=1"
[devices.good]
address = "sim://gauge"
`));
  try {
    const seen: Reading[] = [];
    for (const m of lab.managers) m.onReading((r) => seen.push(r));
    const missed = new Map<string, number>();
    const sampler = new Sampler(lab, {
      interval: 5,
      count: 20,
      onMissed: (devices, n) => devices.forEach((d) => missed.set(d, (missed.get(d) ?? 0) + n)),
    });
    await sampler.run();
    const bad = seen.filter((r) => r.device === "bad");
    const good = seen.filter((r) => r.device === "good");
    // Every deadline is either sampled or reported missed (a loaded machine may overrun).
    assert.equal(good.length + (missed.get("good") ?? 0), 20);
    assert.ok(bad.every((r) => r.error !== undefined));
    // Backoff doubles: attempts at ticks 0, 1, 3, 7, 15 (plus or minus a missed deadline).
    assert.ok(bad.length >= 2 && bad.length <= 6, `bad device tried ${bad.length} times`);
    assert.ok(sampler.stats.backedOff > 0);
  } finally {
    await lab.close();
  }
});
