import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "smol-toml";
import "../drivers/mod.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { fuzzTest, onlyThrows } from "../../tests/fuzz_runs.ts";
import { parseAlarms } from "../alarm/rules.ts";
import { parseNotify } from "../alarm/notify_config.ts";
import { parseServerConfig } from "../server/config.ts";
import { parseCaSection } from "../server/ca/options.ts";
import { sessionPath } from "../session/path.ts";
import { type LabConfig, parseConfig, parseConfigDoc } from "./load.ts";
import { devicesOnlyConfig } from "./lab_config.ts";
import { MAX_TIMER_MS } from "./duration.ts";
import { resolveTargets } from "./targets.ts";

/** TOML values of every kind, nested a little. */
const tomlValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.string({ maxLength: 12 }),
    fc.constantFrom("1s", "250ms", "0s", "-1s", "2m", "1e3", "sim://gauge", "x", ""),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 3 }),
  ),
})).v;

/** Values a person would plausibly write for a config key. */
const plausible = fc.oneof(
  fc.constantFrom("1s", "250ms", "2m", "127.0.0.1:0", "127.0.0.1", "LAB:", "none", "all"),
  fc.constantFrom("loopback", "gauge", "m1", "pressure", ">", "outside", "minor", "major"),
  fc.constantFrom(["127.0.0.1"], ["http://localhost:1"], [], "/tmp/x.sqlite", "email", "webhook"),
  fc.integer({ min: -2, max: 70000 }),
  fc.double({ min: -10, max: 1e6, noNaN: true }),
  fc.boolean(),
);

/** A table whose keys are mostly the ones a section knows, with mostly plausible values. */
const tableOf = (keys: string[]) =>
  fc.dictionary(
    fc.oneof({ arbitrary: fc.constantFrom(...keys), weight: 9 }, {
      arbitrary: fc.string({ maxLength: 8 }),
      weight: 1,
    }),
    fc.oneof({ arbitrary: plausible, weight: 4 }, { arbitrary: tomlValue, weight: 1 }),
    { maxKeys: 3 },
  );
/** Sections are absent more often than present, so that some documents are fully valid. */
const sometimes = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: arb, weight: 1 });

/** Drops absent keys (TOML has no undefined). */
function defined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(defined);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, defined(x)]),
  );
}

const address = fc.oneof(
  { arbitrary: fc.constantFrom("sim://gauge", "sim://motor?seed=1", "sim://thermo"), weight: 4 },
  fc.constantFrom("baratron://10.0.0.5", "baratron://999.1.1.1", "ca://X:Y", "sim://%zz", "nope"),
  fc.string({ maxLength: 16 }).map((s) => `sim://${s}`),
  fc.string({ maxLength: 16 }),
);
const device = fc.record({
  address: fc.oneof({ arbitrary: address, weight: 5 }, { arbitrary: tomlValue, weight: 1 }),
  interval: sometimes(fc.oneof(plausible, tomlValue)),
  timeout: sometimes(fc.oneof(plausible, tomlValue)),
  seed: sometimes(fc.integer()),
  intervall: fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, fc.constant("1s")),
});
const deviceName = fc.oneof(
  { arbitrary: fc.constantFrom("gauge", "m1", "det-2", "_x"), weight: 4 },
  fc.string({ maxLength: 8 }),
);

/** A config document: the known sections with mostly known keys, sometimes a stray section. */
const configDoc = fc.record({
  devices: fc.dictionary(deviceName, device, { maxKeys: 3 }),
  alarms: sometimes(fc.array(
    tableOf(["name", "device", "attr", "compare", "trip", "low", "high", "delay", "severity"]),
    { maxLength: 2 },
  )),
  server: sometimes(tableOf(["listen", "token_file", "cors", "max_body"])),
  ca: sometimes(tableOf(["enabled", "prefix", "port", "interfaces", "write", "write_hosts"])),
  session: sometimes(tableOf(["path"])),
  notify: sometimes(tableOf(["smtp", "sinks", "digest"])),
  scan: sometimes(tableOf(["max_points"])),
  sesion: fc.oneof({ arbitrary: fc.constant(undefined), weight: 19 }, tableOf(["path"])),
}).map((doc) => defined(doc) as Record<string, unknown>);

/** Everything the daemon reads from a config once it has loaded. */
function useSections(config: LabConfig): void {
  parseAlarms(config);
  parseNotify(config);
  parseServerConfig(config.sections.server, config.file);
  if (config.sections.ca !== undefined) parseCaSection(config.sections.ca, config.file);
  sessionPath(config);
  resolveTargets(config.devices.map((d) => d.name), config);
}

fuzzTest(
  "parseConfig: any TOML document is a config or a ConfigError; its sections too",
  configDoc,
  (doc) => {
    const text = stringify(doc);
    const config = onlyThrows([ConfigError], () => parseConfig(text, "fuzz.toml"));
    if (config === undefined) return;
    assert.equal(config.devices.length, Object.keys(doc.devices as object).length);
    for (const d of config.devices) {
      assert.ok(Number.isFinite(d.interval) && d.interval >= 0, `interval ${d.interval}`);
    }
    onlyThrows([ConfigError, UsageError], () => useSections(config));
  },
);

/** Pieces of TOML syntax, so random text is often nearly a document. */
const tomlSoup = fc.array(
  fc.oneof(
    fc.constantFrom("[devices.g]\n", "[[alarms]]\n", "[ca]\n", "address = ", '"sim://gauge"\n'),
    fc.constantFrom("interval = ", "1.5\n", "'x'\n", "[", "]", "=", '"', "\n", "{", "}", ",", "#"),
    fc.constantFrom("inf", "nan", "1979-05-27T07:32:00Z", '"""', "\\u0000", "a.b.c = 1\n"),
    fc.string({ maxLength: 5 }),
  ),
  { maxLength: 30 },
).map((t) => t.join(""));

fuzzTest(
  "parseConfig: any text is a config or a ConfigError",
  fc.oneof(fc.string(), tomlSoup),
  (text) => {
    onlyThrows([ConfigError], () => parseConfig(text, "fuzz.toml"));
  },
);

const MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const goodDevice = fc.record({
  kind: fc.constantFrom("gauge", "motor", "thermo", "dmm"),
  seed: fc.nat(1000),
  amount: fc.integer({ min: 1, max: 100_000 }),
  unit: fc.constantFrom(...(Object.keys(MS) as (keyof typeof MS)[])),
});

/** The amount, kept within the longest interval a device may have (a timer's ceiling). */
function within(d: { amount: number; unit: keyof typeof MS }): number {
  return Math.min(d.amount, Math.floor(MAX_TIMER_MS / MS[d.unit]));
}

fuzzTest(
  "parseConfig: devices written to a file come back with their names, addresses and intervals",
  fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,10}$/), goodDevice, { maxKeys: 6 }),
  (devices) => {
    const doc = {
      devices: Object.fromEntries(
        Object.entries(devices).map(([name, d]) => [name, {
          address: `sim://${d.kind}?seed=${d.seed}`,
          interval: `${within(d)}${d.unit}`,
        }]),
      ),
    };
    const config = parseConfig(stringify(doc), "fuzz.toml");
    assert.deepEqual(
      config.devices.map((d) => [d.name, d.address.text, d.interval]),
      Object.entries(devices).map(([name, d]) => [
        name,
        `sim://${d.kind}?seed=${d.seed}`,
        within(d) * MS[d.unit],
      ]),
    );
  },
);

/** The outcome of loading a config: its devices as JSON, or the error's message. */
function outcome(load: () => LabConfig | undefined): string {
  try {
    return JSON.stringify(load()?.devices);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return `${err.name}: ${err.message}`;
  }
}

fuzzTest(
  "a config of only devices checked without zod is what the whole schema makes of it",
  fc.dictionary(deviceName, fc.oneof({ arbitrary: device, weight: 9 }, tomlValue), {
    maxKeys: 3,
  }).map((devices) => defined({ devices }) as Record<string, unknown>),
  (doc) => {
    assert.equal(
      outcome(() => devicesOnlyConfig(doc, "", "fuzz.toml")),
      outcome(() => parseConfigDoc(doc, "", "fuzz.toml")),
    );
  },
);
