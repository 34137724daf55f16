import assert from "node:assert/strict";
import { ConfigError } from "../device/errors.ts";
import { parseConfig } from "./load.ts";
import { loadConfig } from "./file.ts";
import { parseDuration } from "./duration.ts";

Deno.test("parseConfig reads devices with interval, timeout and driver options", () => {
  const c = parseConfig(
    `[devices.gauge1]
address = "sim://motor"
interval = "500ms"
timeout = "2s"
velocity = 3

[session]
path = "bench.sqlite"
`,
    "lab.toml",
  );
  assert.equal(c.devices.length, 1);
  const d = c.devices[0]!;
  assert.equal(d.name, "gauge1");
  assert.equal(d.address.scheme, "sim");
  assert.equal(d.interval, 500);
  assert.equal(d.timeout, 2000);
  assert.deepEqual(d.options, { velocity: 3 });
  assert.equal((c.sections.session as Record<string, unknown>).path, "bench.sqlite");
});

Deno.test("config errors name the file, the key and what was expected", () => {
  const cases: [string, RegExp][] = [
    [
      "[devices.g]\naddress = 5",
      /lab\.toml: devices\.g\.address: expected address = "scheme:\/\/…"/,
    ],
    ['[devices.g]\naddress = "gauge"', /devices\.g\.address: "gauge" is not an address/],
    [
      '[devices.g]\naddress = "sim://gauge"\ninterval = "fast"',
      /devices\.g\.interval: .*not a duration/,
    ],
    ["[devcies.g]", /lab\.toml: devcies: unknown section.*did you mean "devices"/],
    ["[devices", /lab\.toml: not valid TOML at line 1, column 2: /],
    [
      '[devices.g]\naddress = "sim://gauge"\ninterval = 5ms\n',
      /^lab\.toml: not valid TOML at line 3, column 13: illegal character in numeric literal:\n {2}interval = 5ms\n {14}\^$/,
    ],
    [
      // a CRLF file: the quoted line without its \r
      '[devices.g]\r\naddress = "sim://gauge"\r\ninterval = 5ms\r\n',
      /^lab\.toml: not valid TOML at line 3, column 13: illegal character in numeric literal:\n {2}interval = 5ms\n {14}\^$/,
    ],
    [
      // a tab before the error: the caret's indent keeps it, so the caret sits under the error
      '[devices.g]\n\taddress = "sim://gauge"\n\tinterval = 5ms\n',
      /^lab\.toml: not valid TOML at line 3, column 14: illegal character in numeric literal:\n {2}\tinterval = 5ms\n {2}\t {12}\^$/,
    ],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseConfig(text, "lab.toml"),
      (e) => e instanceof ConfigError && re.test(e.message),
      text,
    );
  }
});

Deno.test("a missing default config is empty, a missing explicit one is an error", async () => {
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    assert.deepEqual((await loadConfig()).devices, []);
    await assert.rejects(() => loadConfig("nope.toml"), /nope\.toml: file not found/);
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseDuration reads the units people write", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("3"), 3000);
  assert.equal(parseDuration("3", "ms"), 3);
  assert.throws(() => parseDuration("soon"), /not a duration/);
});
