import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { TimeoutError, UsageError } from "../device/errors.ts";
import { Lab } from "./lab.ts";
import { writeAssignments } from "./write.ts";

async function bench(): Promise<Lab> {
  return await Lab.open(parseConfig(
    `[devices.motor]\naddress = "sim://motor?id=w1&velocity=200"\n` +
      `[devices.slow]\naddress = "sim://motor?id=w2&velocity=1"\n` +
      `[devices.thermo]\naddress = "sim://thermo?id=w3"\n`,
    "<test>",
  ));
}

Deno.test("writeAssignments: the read-back is a reading (t, device, the written values)", async () => {
  const lab = await bench();
  try {
    const before = Date.now() / 1000;
    const r = await writeAssignments(lab.get("thermo"), [{ attr: "setpoint", text: "30" }]);
    assert.equal(r.device, "thermo");
    assert.ok(r.t >= before - 0.001 && r.t <= Date.now() / 1000 + 0.001, String(r.t));
    assert.deepEqual(r.values, { setpoint: 30 });
  } finally {
    await lab.close();
  }
});

Deno.test("writeAssignments: every value is checked before the first write", async () => {
  const lab = await bench();
  try {
    const m = lab.get("motor");
    const writes = m.stats.writes;
    await assert.rejects(
      writeAssignments(m, [
        { attr: "position", text: "1" },
        { attr: "position", text: "1e9" },
      ]),
      (err: Error) => err instanceof UsageError && /above the upper limit/.test(err.message),
    );
    await assert.rejects(
      writeAssignments(m, [{ attr: "position", text: "true", bare: true }]),
      /is not ATTR=VALUE/,
    );
    assert.equal(m.stats.writes, writes);
  } finally {
    await lab.close();
  }
});

Deno.test("writeAssignments --wait: the move's end, with the device's default reading", async () => {
  const lab = await bench();
  try {
    const r = await writeAssignments(lab.get("motor"), [{ attr: "position", text: "2.5" }], {
      wait: true,
    });
    assert.equal(r.values.position, 2.5);
    assert.equal(r.values.moving, false);
    assert.equal(r.values.readback, 2.5);
    // A move that cannot end in time is a device timeout, not a usage mistake.
    await assert.rejects(
      writeAssignments(lab.get("slow"), [{ attr: "position", text: "50" }], {
        wait: true,
        timeout: 100,
      }),
      (err: Error) => err instanceof TimeoutError && /still moving after/.test(err.message),
    );
  } finally {
    await lab.close();
  }
});
