import assert from "node:assert/strict";
import { ConfigError, UsageError } from "../device/errors.ts";
import { parseAddress } from "../device/address.ts";
import { parseConfig } from "./load.ts";
import { formatKeyPath } from "./schema.ts";
import { checkAddressOptions } from "./options.ts";
// Each driver declares its options; the schema asks the registered drivers.
import "../drivers/mod.ts";

/** Asserts that `text` fails to load with exactly `key` named and a message matching `re`. */
function rejects(text: string, key: string, re: RegExp): void {
  assert.throws(() => parseConfig(text, "lab.toml"), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert.equal(e.file, "lab.toml");
    assert.equal(e.key, key);
    assert.match(e.message, re);
    assert.ok(e.message.startsWith(`lab.toml: ${key}: `), e.message);
    return true;
  }, text);
}

Deno.test("a typo in any driver's device table is an unknown key with a suggestion", () => {
  rejects(
    '[devices.gauge]\naddress = "baratron://10.0.0.5"\nintervall = "1s"',
    "devices.gauge.intervall",
    /unknown key; a baratron:\/\/ device takes: address, interval, timeout, safe_state, safe_state_timeout, trigger, trigger_done \(did you mean "interval"\?\)/,
  );
  rejects(
    '[devices.m1]\naddress = "ca://XXX:m1.VAL"\nwiat = true',
    "devices.m1.wiat",
    /unknown key; a ca:\/\/ device takes: .*wait.*\(did you mean "wait"\?\)/,
  );
  rejects(
    '[devices.m]\naddress = "sim://motor"\nvelocty = 3',
    "devices.m.velocty",
    /did you mean "velocity"\?/,
  );
  rejects('[devices.g]\nadress = "sim://gauge"', "devices.g.adress", /did you mean "address"\?/);
});

Deno.test("address options are checked in the config file too, naming the address key", () => {
  rejects(
    '[devices.m1]\naddress = "ca://X?wiat=1"',
    "devices.m1.address",
    /ca:\/\/X\?wiat=1: unknown option "wiat".*\(did you mean "wait"\?\)/,
  );
  rejects(
    '[devices.g]\naddress = "baratron://h?intervall=1s"',
    "devices.g.address",
    /unknown option "intervall"/,
  );
  rejects(
    '[devices.g]\naddress = "sim://gauge?seedd=3"',
    "devices.g.address",
    /unknown option "seedd".*\(did you mean "seed"\?\)/,
  );
  rejects(
    '[devices.g]\naddress = "baratron://999.999.999.999"',
    "devices.g.address",
    /host "999\.999\.999\.999" is not a valid address/,
  );
});

Deno.test("durations need a unit and a sensible size", () => {
  const dev = '[devices.g]\naddress = "sim://gauge"\n';
  rejects(`${dev}interval = 100`, "devices.g.interval", /100 has no unit: write "100ms" or "100s"/);
  rejects(`${dev}interval = "100"`, "devices.g.interval", /has no unit/);
  rejects(`${dev}interval = "0s"`, "devices.g.interval", /"0s" is too short: .*≥ 1ms/);
  rejects(`${dev}interval = "-1s"`, "devices.g.interval", /negative/);
  rejects(`${dev}interval = "30d"`, "devices.g.interval", /too long: .*≤ 24d/);
  rejects(`${dev}timeout = 2`, "devices.g.timeout", /write "2ms" or "2s"/);
  rejects(`${dev}latency = 20`, "devices.g.latency", /write "20ms" or "20s"/);
  rejects("[ca]\nbeacon_period = 15", "ca.beacon_period", /has no unit/);
  rejects('[notify.smtp]\nhost = "h"\nfrom = "a@b"\ntimeout = 30', "notify.smtp.timeout", /unit/);
  const ok = parseConfig(`${dev}interval = "250ms"\ntimeout = "1.5s"`, "lab.toml").devices[0]!;
  assert.deepEqual([ok.interval, ok.timeout], [250, 1500]);
});

Deno.test("every section rejects unknown keys through the same formatter", () => {
  rejects("[server]\nlisen = 1", "server.lisen", /unknown key; \[server\] takes: .*"listen"/);
  rejects("[session]\npth = 1", "session.pth", /unknown key; \[session\] takes: path/);
  rejects(
    '[ca]\nprefx = "X:"',
    "ca.prefx",
    /unknown key; \[ca\] takes: .*\(did you mean "prefix"\?\)/,
  );
  rejects("[notify]\nsinkz = []", "notify.sinkz", /did you mean "sinks"/);
  rejects(
    '[[notify.sinks]]\ntype = "command"\ncommand = ["x"]\nretires = 2',
    "notify.sinks[0].retires",
    /unknown key; a "command" sink takes: .*\(did you mean "retries"\?\)/,
  );
  rejects(
    '[devices.g]\naddress = "sim://gauge"\n[[alarms]]\ndevice = "g"\nattr = "pressure"\ncompare = ">"\ntripp = 1',
    "alarms[0].tripp",
    /did you mean "trip"/,
  );
  rejects("[sesion]\npath = 1", "sesion", /unknown section.*did you mean "session"/);
});

Deno.test("address options outside a config file are usage errors with a suggestion", () => {
  const cases: [string, RegExp, string | undefined][] = [
    [
      "ca://X:m1?wiat=1",
      /unknown option "wiat"; ca:\/\/ takes: timeout=, wait=/,
      'did you mean "wait"?',
    ],
    ["baratron://h?intervall=1s", /unknown option "intervall"/, undefined],
    ["sim://gauge?seedd=3", /unknown option "seedd"/, 'did you mean "seed"?'],
    ["sim://gauge?timeout=2", /option timeout: 2 has no unit/, undefined],
    ["sim://gauge?error_rate=2", /option error_rate: expected a number from 0 to 1/, undefined],
    ["baratron://999.999.999.999", /host "999\.999\.999\.999" is not a valid address/, undefined],
    ["baratron://10.0.0", /four numbers/, undefined],
    ["baratron://[zz::1]", /not an IPv6 address/, undefined],
  ];
  for (const [text, re, hint] of cases) {
    assert.throws(() => checkAddressOptions(parseAddress(text)), (e: unknown) => {
      assert.ok(e instanceof UsageError, `${text}: ${e}`);
      assert.match(e.message, re);
      if (hint) assert.equal(e.hint, hint);
      return true;
    }, text);
  }
  for (
    const ok of ["ca://X:m1?wait=1&timeout=2s", "baratron://[::1]:8081", "sim://motor?velocity=5"]
  ) {
    checkAddressOptions(parseAddress(ok));
  }
});

Deno.test("key paths are written as in the file", () => {
  assert.equal(formatKeyPath(["notify", "sinks", 0, "to", 1]), "notify.sinks[0].to[1]");
  assert.equal(formatKeyPath(["devices", "gauge", "interval"]), "devices.gauge.interval");
});
