/**
 * Scans over instrument definitions, in-process against their simulators: a power supply's
 * voltage as positioner, a DMM as detector armed by its `initiate` action at every point
 * (`triggers`), and a trigger that is not an action refused before anything moves.
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { parseAddress } from "../../lib/device/address.ts";
import { Lab } from "../../lib/lab/lab.ts";
import { ScanRun } from "../../lib/scan/runner.ts";
import { findInstrument } from "../../lib/instruments/loader.ts";
import { startTcpSimulator } from "../../lib/drivers/message/simulator.ts";

Deno.test("scan: PSU voltage against a DMM, the DMM armed by its initiate action before every fetch", async () => {
  const heard: string[] = [];
  const psuSim = await startTcpSimulator(await findInstrument("rigol-dp832"), { port: 0 });
  const dmmSim = await startTcpSimulator(await findInstrument("keysight-34461a"), {
    port: 0,
    onMessage: (e) => heard.push(e.message),
  });
  const lab = await Lab.open({
    sections: {},
    devices: [
      { name: "psu", address: parseAddress(psuSim.address), interval: 1000, options: {} },
      { name: "dmm", address: parseAddress(dmmSim.address), interval: 1000, options: {} },
    ],
  });
  try {
    const run = new ScanRun(lab, {
      plan: {
        kind: "line",
        relative: false,
        num: 4,
        spacing: "linear",
        axes: [{ positioner: "psu.ch2_voltage_set", start: 1, stop: 4 }],
      },
      detectors: ["psu.ch2_voltage", "dmm.fetched"],
      triggers: ["dmm.initiate"],
      pollMs: 1,
    });
    const result = await run.start();
    assert.equal(result.state, "done");
    assert.equal(run.points.length, 4);
    run.points.forEach((p, i) => {
      assert.equal(p.positions[0], i + 1);
      assert.ok(Math.abs((p.values[0] as number) - (i + 1)) < 0.01, JSON.stringify(p));
      assert.equal(typeof p.values[1], "number");
    });
    // INIT, then the fetch, at each of the 4 points (after the DMM's *IDN? and *CLS).
    const order = heard.filter((m) => m === "INIT" || m === "FETC?");
    assert.deepEqual(order, ["INIT", "FETC?", "INIT", "FETC?", "INIT", "FETC?", "INIT", "FETC?"]);

    const bad = new ScanRun(lab, {
      plan: { kind: "count", num: 1 },
      detectors: ["dmm.reading"],
      triggers: ["psu.ch1_voltage"],
    });
    await assert.rejects(bad.start(), /trigger psu\.ch1_voltage is not an action/);
  } finally {
    await lab.close();
    await psuSim.close();
    await dmmSim.close();
  }
});
