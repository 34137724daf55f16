import assert from "node:assert/strict";
import { parseFlags } from "../../cli/flags.ts";
import { parseConfig } from "../../config/load.ts";
import { ConfigError, UsageError } from "../../device/errors.ts";
import {
  CA_FLAGS,
  caEnvOptions,
  caServeOptions,
  hostAndPort,
  parseCaSection,
} from "./server_options.ts";

const envOf = (vars: Record<string, string>) => (k: string) => vars[k];

Deno.test("caEnvOptions reads the EPICS_CAS_* variables", () => {
  const o = caEnvOptions(envOf({
    EPICS_CAS_SERVER_PORT: "5070",
    EPICS_CAS_INTF_ADDR_LIST: "127.0.0.1 10.0.0.2",
    EPICS_CAS_BEACON_ADDR_LIST: "127.0.0.1:5999",
    EPICS_CAS_AUTO_BEACON_ADDR_LIST: "NO",
    EPICS_CAS_BEACON_PERIOD: "2.5",
  }));
  assert.deepEqual(o, {
    port: 5070,
    interfaces: ["127.0.0.1", "10.0.0.2"],
    beaconAddrs: ["127.0.0.1:5999"],
    autoBeacon: false,
    beaconPeriod: 2.5,
  });
});

Deno.test("caEnvOptions falls back to the client variables like rsrv", () => {
  const o = caEnvOptions(envOf({
    EPICS_CA_SERVER_PORT: "6064",
    EPICS_CA_ADDR_LIST: "10.0.0.255",
    EPICS_CA_AUTO_ADDR_LIST: "YES",
    EPICS_CA_REPEATER_PORT: "6065",
  }));
  assert.deepEqual(o, {
    port: 6064,
    beaconAddrs: ["10.0.0.255"],
    autoBeacon: true,
    beaconPort: 6065,
  });
  assert.deepEqual(caEnvOptions(envOf({})), {});
});

Deno.test("caEnvOptions rejects bad values with the variable's name", () => {
  assert.throws(
    () => caEnvOptions(envOf({ EPICS_CAS_SERVER_PORT: "http" })),
    (e: Error) => e instanceof UsageError && e.message.includes("EPICS_CAS_SERVER_PORT"),
  );
  assert.throws(
    () => caEnvOptions(envOf({ EPICS_CAS_AUTO_BEACON_ADDR_LIST: "maybe" })),
    UsageError,
  );
});

Deno.test("parseCaSection validates [ca] and names the key in errors", () => {
  assert.deepEqual(
    parseCaSection({ prefix: "LAB:", port: 0, interfaces: ["127.0.0.1"], beacon_period: "5s" }),
    { prefix: "LAB:", port: 0, interfaces: ["127.0.0.1"], beaconPeriod: 5 },
  );
  assert.throws(
    () => parseCaSection({ prefx: "LAB:" }, "lab.toml"),
    (e: Error) => e instanceof ConfigError && e.message.includes("ca.prefx"),
  );
  assert.throws(() => parseCaSection({ port: 70000 }), ConfigError);
  assert.throws(() => parseCaSection({ prefix: "A B" }), ConfigError);
});

Deno.test("caServeOptions: off without --ca, flags over [ca] over environment", () => {
  const config = parseConfig(`[ca]\nprefix = "CFG:"\nport = 5099\n`);
  const env = envOf({ EPICS_CAS_SERVER_PORT: "5070", EPICS_CAS_INTF_ADDR_LIST: "127.0.0.1" });
  assert.equal(caServeOptions(parseFlags([], CA_FLAGS), config, env), undefined);
  const on = caServeOptions(parseFlags(["--ca"], CA_FLAGS), config, env)!;
  assert.deepEqual([on.prefix, on.port, on.interfaces], ["CFG:", 5099, ["127.0.0.1"]]);
  const prefixed = caServeOptions(parseFlags(["--ca-prefix", "X:"], CA_FLAGS), config, env)!;
  assert.equal(prefixed.prefix, "X:");
});

Deno.test("hostAndPort splits host[:port]", () => {
  assert.deepEqual(hostAndPort("10.0.0.255", 5065), { host: "10.0.0.255", port: 5065 });
  assert.deepEqual(hostAndPort("127.0.0.1:6000", 5065), { host: "127.0.0.1", port: 6000 });
  assert.throws(() => hostAndPort(":5", 5065), UsageError);
});
