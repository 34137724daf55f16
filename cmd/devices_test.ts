import assert from "node:assert/strict";
import "../lib/drivers/mod.ts";
import { parseConfig } from "../lib/config/load.ts";
import { UsageError } from "../lib/device/errors.ts";
import { deviceRows, otherAddresses, parseDevicesArgs, servedRows, serverOf } from "./devices.ts";

const CONFIG = `
[devices.gauge]
address = "sim://gauge?seed=1"

[devices.thermo]
address = "sim://thermo?seed=2"
`;

Deno.test("deviceRows: a daemon's device of the same name at another address is not this one", () => {
  const { devices } = parseConfig(CONFIG, "bench.toml");
  const served = [
    { name: "gauge", driver: "baratron", address: "baratron://127.0.0.1:8081", state: "up" },
    { name: "thermo", driver: "sim", address: "sim://thermo?seed=2", state: "down" },
  ];
  const rows = deviceRows(devices, served);
  assert.deepEqual(rows.map((r) => [r.name, r.driver, r.state]), [
    ["gauge", "sim", "not served"],
    ["thermo", "sim", "down"],
  ]);
  assert.equal(
    otherAddresses(devices, served),
    "the daemon serves another config: gauge is baratron://127.0.0.1:8081 there, not " +
      "sim://gauge?seed=1 (shown as not served)",
  );
  assert.equal(otherAddresses(devices, served.slice(1)), undefined);
  assert.equal(otherAddresses(devices, undefined), undefined);
});

Deno.test("parseDevicesArgs: --demo with --server is a usage error, --server alone is kept", () => {
  assert.throws(
    () => parseDevicesArgs(["--demo", "--server", "http://127.0.0.1:8600"]),
    (e: Error) =>
      e instanceof UsageError && /--demo and --server don't go together/.test(e.message),
  );
  assert.equal(
    parseDevicesArgs(["bench.toml", "--server", "http://127.0.0.1:8600/"]).server,
    "http://127.0.0.1:8600",
  );
  assert.equal(parseDevicesArgs(["--demo", "--no-server"]).demo, true);
});

Deno.test("servedRows: a daemon's devices as it describes them, the instrument from the address", () => {
  const rows = servedRows([
    {
      name: "psu",
      driver: "tcp",
      address: "tcp://10.0.0.7:5025?instrument=rigol-dp832",
      state: "up",
      interval_s: 5,
    },
    { name: "thermo", driver: "sim", address: "sim://thermo?seed=2", state: "down", interval_s: 1 },
  ]);
  assert.deepEqual(rows, [
    {
      name: "psu",
      address: "tcp://10.0.0.7:5025?instrument=rigol-dp832",
      driver: "tcp",
      instrument: "rigol-dp832",
      interval_s: 5,
      state: "up",
    },
    {
      name: "thermo",
      address: "sim://thermo?seed=2",
      driver: "sim",
      instrument: null,
      interval_s: 1,
      state: "down",
    },
  ]);
});

Deno.test("serverOf: --server, else $LABWIRE_URL (as task reads it), else the config's listen", () => {
  const env = "http://10.0.0.2:8600/";
  assert.equal(serverOf(parseDevicesArgs([]), env), "http://10.0.0.2:8600");
  assert.equal(serverOf(parseDevicesArgs(["--server", "http://h:1"]), env), "http://h:1");
  assert.equal(serverOf(parseDevicesArgs(["bench.toml"]), env), "http://10.0.0.2:8600");
  assert.equal(serverOf(parseDevicesArgs([]), undefined), undefined);
  assert.equal(serverOf(parseDevicesArgs([]), ""), undefined);
  // --demo's simulators are this run's, and --no-server asks nobody: the variable is not read.
  assert.equal(serverOf(parseDevicesArgs(["--demo"]), env), undefined);
  assert.equal(serverOf(parseDevicesArgs(["--no-server"]), env), undefined);
  assert.throws(
    () => serverOf(parseDevicesArgs([]), "localhost:8600"),
    (e) =>
      e instanceof UsageError &&
      /^\$LABWIRE_URL: "localhost:8600" is not an http:\/\/ URL/.test(e.message),
  );
});
