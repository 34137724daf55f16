import assert from "node:assert/strict";
import { parseFlags } from "../../cli/flags.ts";
import { parseConfig } from "../../config/load.ts";
import { ConfigError, UsageError } from "../../device/errors.ts";
import {
  CA_FLAGS,
  caEnvOptions,
  caServeOptions,
  caWanted,
  hostAndPort,
  parseCaSection,
} from "./options.ts";

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
  assert.throws(
    () => parseCaSection({ interfaces: ["eth0"] }, "lab.toml"),
    (e: Error) => e instanceof ConfigError && /ca\.interfaces.*IPv4/.test(e.message),
  );
  assert.throws(() => parseCaSection({ prefix: "A B" }), ConfigError);
});

Deno.test("caServeOptions: [ca] alone starts CA unless enabled = false; flags over [ca] over environment", () => {
  const config = parseConfig(`[ca]\nprefix = "CFG:"\nport = 5099\n`);
  const env = envOf({ EPICS_CAS_SERVER_PORT: "5070", EPICS_CAS_INTF_ADDR_LIST: "127.0.0.1" });
  const none = parseFlags([], CA_FLAGS);
  assert.equal(caServeOptions(none, parseConfig(""), env), undefined);
  assert.equal(caWanted(none, parseConfig("")), false);
  // The section alone asks for the server.
  assert.equal(caWanted(none, config), true);
  assert.deepEqual(caServeOptions(none, config, env)?.prefix, "CFG:");
  assert.equal(caWanted(none, parseConfig(`[ca]\nenabled = true\n`)), true);
  // enabled = false keeps the settings without serving; --ca still starts it with them.
  const off = parseConfig(`[ca]\nenabled = false\nprefix = "OFF:"\n`);
  assert.equal(caWanted(none, off), false);
  assert.equal(caServeOptions(none, off, env), undefined);
  assert.equal(caServeOptions(parseFlags(["--ca"], CA_FLAGS), off, env)?.prefix, "OFF:");
  assert.throws(
    () => caServeOptions(none, parseConfig(`[ca]\nenabled = "yes"\n`, "lab.toml"), env),
    (e: Error) => e instanceof ConfigError && e.message.includes("ca.enabled"),
  );
  // A switched-off section is still checked.
  assert.throws(
    () => caWanted(none, parseConfig(`[ca]\nenabled = false\nprefx = "X:"\n`, "lab.toml")),
    (e: Error) => e instanceof ConfigError && e.message.includes("ca.prefx"),
  );
  const on = caServeOptions(parseFlags(["--ca"], CA_FLAGS), config, env)!;
  assert.deepEqual([on.prefix, on.port, on.interfaces], ["CFG:", 5099, ["127.0.0.1"]]);
  const prefixed = caServeOptions(parseFlags(["--ca-prefix", "X:"], CA_FLAGS), config, env)!;
  assert.equal(prefixed.prefix, "X:");
});

Deno.test("parseCaSection reads who may write and the array size limit", () => {
  assert.deepEqual(
    parseCaSection({
      enabled: true,
      write: "none",
      write_hosts: ["198.18.0.2", "198.18.0.0/24"],
      max_array_bytes: 100000,
    }),
    { write: "none", writeHosts: ["198.18.0.2", "198.18.0.0/24"], maxArrayBytes: 100000 },
  );
  // Below EPICS' 16384 is raised to 16384, as EPICS does.
  assert.equal(parseCaSection({ max_array_bytes: 100 }).maxArrayBytes, 16384);
  assert.throws(
    () => parseCaSection({ write: "everyone" }, "lab.toml"),
    (e: Error) =>
      e instanceof ConfigError && e.message.includes("ca.write") &&
      e.message.includes('"loopback"'),
  );
  assert.throws(
    () => parseCaSection({ write_hosts: ["lab-pc.example"] }, "lab.toml"),
    (e: Error) =>
      e instanceof ConfigError && e.message.includes("ca.write_hosts") &&
      e.message.includes("host names are not accepted"),
  );
  assert.throws(() => parseCaSection({ write_hosts: ["198.18.0.0/33"] }), ConfigError);
  assert.throws(() => parseCaSection({ write_hosts: "198.18.0.2" }), ConfigError);
  assert.throws(() => parseCaSection({ max_array_bytes: 1e12 }), ConfigError);
  assert.throws(() => parseCaSection({ max_array_bytes: "16k" }), ConfigError);
});

Deno.test("caEnvOptions reads EPICS_CA_MAX_ARRAY_BYTES and checks EPICS_CAS_INTF_ADDR_LIST", () => {
  assert.equal(caEnvOptions(envOf({ EPICS_CA_MAX_ARRAY_BYTES: "1000000" })).maxArrayBytes, 1000000);
  assert.throws(() => caEnvOptions(envOf({ EPICS_CA_MAX_ARRAY_BYTES: "lots" })), UsageError);
  assert.throws(
    () => caEnvOptions(envOf({ EPICS_CAS_INTF_ADDR_LIST: "localhost" })),
    (e: Error) => e instanceof UsageError && e.message.includes("EPICS_CAS_INTF_ADDR_LIST"),
  );
});

Deno.test("hostAndPort splits host[:port]", () => {
  assert.deepEqual(hostAndPort("10.0.0.255", 5065), { host: "10.0.0.255", port: 5065 });
  assert.deepEqual(hostAndPort("127.0.0.1:6000", 5065), { host: "127.0.0.1", port: 6000 });
  assert.throws(() => hostAndPort(":5", 5065), UsageError);
});
