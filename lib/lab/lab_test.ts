import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig, parseDeviceTable } from "../config/load.ts";
import { Lab } from "./lab.ts";

Deno.test("Lab.eachDevice: configured and run-time devices wired alike, unwired on removal only", async () => {
  const lab = await Lab.open(parseConfig('[devices.a]\naddress = "sim://gauge"\n'));
  const log: string[] = [];
  const stop = lab.eachDevice((m) => {
    log.push(`wire ${m.name}`);
    return () => log.push(`unwire ${m.name}`);
  });
  try {
    assert.deepEqual(log, ["wire a"], "the device open now, at once");
    await lab.add(parseDeviceTable("b", { address: "sim://gauge?seed=2" }));
    await lab.remove("a");
    assert.deepEqual(log, ["wire a", "wire b", "unwire a"]);
    stop();
    await lab.add(parseDeviceTable("a", { address: "sim://gauge" }));
    assert.deepEqual(log, ["wire a", "wire b", "unwire a"], "stopping is not removing");
  } finally {
    await lab.close();
  }
});
