import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAddress } from "../../device/address.ts";
import { UsageError } from "../../device/errors.ts";
import { fuzzTest, onlyThrows } from "../../../tests/fuzz_runs.ts";
import { createSim } from "./driver.ts";
import { SIM_KINDS } from "./kinds.ts";
import { COMMON_OPTIONS } from "./options.ts";

const KEYS = [
  ...Object.keys(COMMON_OPTIONS),
  ...new Set(SIM_KINDS.flatMap((k) => Object.keys(k.options))),
  "seeed",
  "",
];
/** Option values near the edges of what options accept. */
const optionValue = fc.oneof(
  fc.constantFrom("", "0", "1", "-1", "1e9", "1e400", "NaN", "Infinity", "0x10", " 2 ", "true"),
  fc.constantFrom("torr", "mbar", "5ms", "2s", "1h", "-5s", "0.5", "1.5", "10000", "10001"),
  fc.double().map(String),
  fc.integer().map(String),
  fc.string({ maxLength: 6 }),
);
const simAddress = fc.record({
  kind: fc.oneof(fc.constantFrom(...SIM_KINDS.map((k) => k.kind)), fc.string({ maxLength: 6 })),
  params: fc.array(fc.tuple(fc.constantFrom(...KEYS), optionValue), { maxLength: 4 }),
  config: fc.dictionary(
    fc.constantFrom(...KEYS),
    fc.oneof(optionValue, fc.double(), fc.boolean()),
    {
      maxKeys: 2,
    },
  ),
});

// A sim device is built synchronously from its address: every option either takes effect or
// is refused as a usage mistake naming it.
fuzzTest(
  "createSim: any kind and options give a device or a UsageError",
  simAddress,
  async ({ kind, params, config }) => {
    const query = new URLSearchParams(params).toString();
    const address = onlyThrows(
      [UsageError],
      () => parseAddress(`sim://${encodeURIComponent(kind)}?${query}`),
    );
    if (address === undefined) return;
    const device = onlyThrows([UsageError], () => createSim(address, { options: config }));
    if (device === undefined) return;
    assert.equal(device.driver, "sim");
    await device.close();
  },
);
