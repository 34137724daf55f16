import assert from "node:assert/strict";
import fc from "fast-check";
import {
  jsonDocument,
  readingJson,
  readingLine,
  readingRecord,
  readingsDocument,
} from "./record.ts";
import type { Reading } from "../device/device.ts";
import type { TimeOptions } from "./time.ts";

const key = fc.oneof(
  fc.stringMatching(/^[a-z_][a-z0-9_]{0,12}$/),
  fc.constantFrom("t", "device", "error", "pressure_units"),
);
const value = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.double(), { maxLength: 4 }),
);
const reading: fc.Arbitrary<Reading> = fc.record({
  t: fc.double({ min: 0, max: 2e9, noNaN: true }),
  device: fc.string(),
  values: fc.dictionary(key, value, { maxKeys: 10 }),
  error: fc.option(fc.string(), { nil: undefined }),
}, { requiredKeys: ["t", "device", "values"] });

Deno.test("readingLine is the JSON of readingRecord, byte for byte, one line", () => {
  fc.assert(
    fc.property(reading, fc.boolean(), (r, iso) => {
      const time: TimeOptions | undefined = iso ? { time: "iso", utc: true } : undefined;
      const line = readingLine(r, time);
      assert.equal(line, JSON.stringify(readingRecord(r, time)) + "\n");
      assert.equal(line.indexOf("\n"), line.length - 1);
      // The API's text of a reading is the same JSON, epoch seconds, no newline.
      assert.equal(readingJson(r), JSON.stringify(readingRecord(r)));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("readingsDocument is jsonDocument of the readings' records keyed by device, byte for byte", () => {
  // Names that an object orders first ("7") or cannot hold as a key ("__proto__") included.
  const name = fc.oneof(fc.string(), fc.constantFrom("7", "12", "__proto__", "0x", "B:pv000001"));
  const batch = fc.uniqueArray(fc.tuple(name, reading), {
    selector: ([n]) => n,
    maxLength: 12,
  });
  fc.assert(
    fc.property(batch, fc.boolean(), fc.boolean(), (pairs, iso, shared) => {
      const time: TimeOptions | undefined = iso ? { time: "iso", utc: true } : undefined;
      // A batch's readings share one time; others each have their own.
      const readings = pairs.map(([device, r]) => ({ ...r, device, t: shared ? 1.5 : r.t }));
      const doc: Record<string, unknown> = {};
      for (const r of readings) doc[r.device] = readingRecord(r, time);
      assert.equal(readingsDocument(readings, time), jsonDocument(doc, false));
    }),
    { numRuns: 2000 },
  );
});
