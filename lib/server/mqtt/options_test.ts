import assert from "node:assert/strict";
import { parseConfig } from "../../config/load.ts";
import { ConfigError, UsageError } from "../../device/errors.ts";
import { mqttServeOptions, mqttWanted } from "./options.ts";

const flags = (values: Record<string, string | boolean>) => ({ values, positionals: [] });
const DEVICES = '[devices.g]\naddress = "sim://gauge"\n';

Deno.test("--mqtt alone: defaults (prefix labwire, QoS 0, retained values, writes off)", () => {
  const o = mqttServeOptions(flags({ mqtt: "mqtt://127.0.0.1" }));
  assert.deepEqual(o.broker, { tls: false, host: "127.0.0.1", port: 1883, path: "" });
  assert.equal(o.prefix, "labwire");
  assert.equal(o.qos, 0);
  assert.equal(o.retain, true);
  assert.equal(o.writes, false);
  assert.equal(o.buffer, 10_000);
  assert.equal(mqttServeOptions(flags({ mqtt: "mqtts://b.lab" })).broker.port, 8883);
});

Deno.test("[mqtt] starts the add-on by itself; flags win over it", () => {
  const cfg = parseConfig(
    `${DEVICES}[mqtt]\nurl = "mqtt://broker.lab:1884"\nprefix = "lab/pc1"\nwrites = true\nqos = 1\nbuffer = 50\n`,
    "lab.toml",
  );
  assert.ok(mqttWanted(flags({}), cfg));
  const o = mqttServeOptions(flags({ "mqtt-prefix": "lab/pc2" }), cfg);
  assert.equal(o.broker.port, 1884);
  assert.equal(o.prefix, "lab/pc2");
  assert.equal(o.writes, true);
  assert.equal(o.qos, 1);
  assert.equal(o.buffer, 50);
  const off = parseConfig(`${DEVICES}[mqtt]\nurl = "mqtt://b"\nenabled = false\n`, "lab.toml");
  assert.ok(!mqttWanted(flags({}), off));
  assert.ok(!mqttWanted(flags({}), parseConfig(DEVICES, "lab.toml")));
});

Deno.test("MQTT mistakes are usage or config errors that say what is expected", () => {
  assert.throws(() => mqttServeOptions(flags({ mqtt: "http://b" })), UsageError);
  assert.throws(() => mqttServeOptions(flags({ mqtt: "mqtt://b/topic" })), /--mqtt-prefix/);
  assert.throws(
    () => mqttServeOptions(flags({ mqtt: "mqtt://b", "mqtt-prefix": "lab/#" })),
    /not a topic prefix/,
  );
  const cases: [string, RegExp][] = [
    ['url = "tcp://b"', /mqtt\.url: expected a broker URL/],
    ["qos = 2", /mqtt\.qos: expected 0/],
    ["buffer = 0", /mqtt\.buffer:/],
    ['prefix = "/lab"', /mqtt\.prefix:/],
    ['pasword_file = "x"', /mqtt\.pasword_file: unknown key/],
  ];
  for (const [line, message] of cases) {
    assert.throws(() => parseConfig(`${DEVICES}[mqtt]\n${line}\n`, "lab.toml"), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("[mqtt] password_file and ca_file are relative to the config file's folder", () => {
  const cfg = parseConfig(
    `${DEVICES}[mqtt]\nurl = "mqtts://broker.lab"\nusername = "pc1"\npassword_file = "secrets/mqtt"\nca_file = "/etc/ssl/lab-ca.pem"\n`,
    "/etc/labwire/labwire.toml",
  );
  const o = mqttServeOptions(flags({}), cfg);
  assert.equal(o.passwordFile, "/etc/labwire/secrets/mqtt");
  assert.equal(o.caFile, "/etc/ssl/lab-ca.pem");
});
