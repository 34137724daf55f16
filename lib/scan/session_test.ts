import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { UsageError } from "../device/errors.ts";
import type { ScanRequest } from "./request.ts";
import { scanDevices } from "./session.ts";
import "../drivers/mod.ts";

Deno.test("scanDevices opens what the refs name, from --devices or the config", () => {
  const config = parseConfig(
    '[devices.motor]\naddress = "sim://motor"\n[devices.det]\naddress = "sim://det"\n[devices.dmm]\naddress = "sim://dmm"',
    "lab.toml",
  );
  // what `scan ascan motor.position 0 1 3 -d det.counts` asks for
  const request: ScanRequest = {
    plan: { kind: "list", relative: false, positioners: ["motor.position"], points: [[0], [1]] },
    detectors: ["det.counts"],
  };
  assert.deepEqual(scanDevices(request, [], config).map((d) => d.name), ["motor", "det"]);
  const empty = { devices: [], sections: {} };
  const both = scanDevices(request, ["sim://motor?velocity=5", "sim://det"], empty);
  assert.deepEqual(both.map((d) => [d.name, d.address.scheme]), [["motor", "sim"], ["det", "sim"]]);
  assert.throws(() => scanDevices(request, ["sim://motor"], empty), (e) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /unknown device "det"/);
    assert.match(e.hint ?? "", /--devices sim:\/\/det/);
    return true;
  });
});
