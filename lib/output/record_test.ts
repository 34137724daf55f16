import assert from "node:assert/strict";
import fc from "fast-check";
import {
  batchDocument,
  jsonDocument,
  readingJson,
  readingLine,
  readingRecord,
  readingsDocument,
  writeReadingLine,
} from "./record.ts";
import { BatchedSink } from "./batched_sink.ts";
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

Deno.test("writeReadingLine queues readingLine's bytes, on stdout's byte batch and on a text target", () => {
  // Any text, non-ASCII and lone surrogates included, in the device's name, values and error.
  const text = fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }));
  const anyReading: fc.Arbitrary<Reading> = fc.record({
    t: fc.double({ min: 0, max: 2e9, noNaN: true }),
    device: text,
    values: fc.dictionary(key, fc.oneof(value, text), { maxKeys: 10 }),
    error: fc.option(text, { nil: undefined }),
  }, { requiredKeys: ["t", "device", "values"] });
  const utf8 = new TextEncoder();
  fc.assert(
    fc.property(fc.array(anyReading, { maxLength: 6 }), fc.boolean(), (readings, iso) => {
      const time: TimeOptions | undefined = iso ? { time: "iso", utc: true } : undefined;
      const want = readings.map((r) => readingLine(r, time)).join("");
      // A small limit: batches go out in the middle of the readings too.
      const chunks: Uint8Array[] = [];
      const bytes = new BatchedSink(undefined, 64, 0, (b) => chunks.push(b.slice()));
      const texts: string[] = [];
      const target = new BatchedSink((t) => texts.push(t), 64);
      for (const r of readings) {
        writeReadingLine(bytes, r, time);
        writeReadingLine(target, r, time);
      }
      bytes.flush();
      target.flush();
      assert.deepEqual(concat(chunks), utf8.encode(want));
      assert.equal(texts.join(""), want);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("writeReadingLine: lines of times that repeat, to the millisecond or not, in either time form, are readingLine's", () => {
  const times = fc.array(
    fc.tuple(fc.constantFrom(0, 0.0001, 0.0004, 0.0006, 0.001, 1), fc.boolean()),
    { minLength: 1, maxLength: 12 },
  );
  fc.assert(
    fc.property(fc.double({ min: 0, max: 2e9, noNaN: true }), times, (t0, steps) => {
      const texts: string[] = [];
      const sink = new BatchedSink((t) => texts.push(t));
      let want = "";
      let t = t0;
      for (const [step, iso] of steps) {
        t += step;
        const time: TimeOptions | undefined = iso ? { time: "iso", utc: true } : undefined;
        const r: Reading = { t, device: "g", values: { p: 1 } };
        want += readingLine(r, time);
        writeReadingLine(sink, r, time);
      }
      sink.flush();
      assert.equal(texts.join(""), want);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("writeReadingLine that throws queues nothing of the line", () => {
  const chunks: Uint8Array[] = [];
  const bytes = new BatchedSink(undefined, 64, 0, (b) => chunks.push(b.slice()));
  const texts: string[] = [];
  const target = new BatchedSink((t) => texts.push(t), 64);
  // No ISO text for an invalid time: machineTime throws.
  const bad: Reading = { t: NaN, device: "gauge", values: { pressure: 3 } };
  const iso: TimeOptions = { time: "iso", utc: true };
  const good: Reading = { t: 1.5, device: "gauge", values: { pressure: 3 } };
  for (const sink of [bytes, target]) {
    assert.throws(() => writeReadingLine(sink, bad, iso), RangeError);
    writeReadingLine(sink, good);
    sink.flush();
  }
  assert.equal(new TextDecoder().decode(concat(chunks)), readingLine(good));
  assert.equal(texts.join(""), readingLine(good));
});

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

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

Deno.test("batchDocument is readingsDocument of readings sharing one time, byte for byte", () => {
  // Names it quotes itself or leaves to JSON.stringify (quotes, backslashes, control characters,
  // lone and paired surrogates), and names on a line of their own when joined.
  const name = fc.oneof(
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.constantFrom("7", "12", "__proto__", "0x", "B:pv000001", 'a"b', "a\\b", "a\u0001"),
    fc.constantFrom("a\n7", "a\n__proto__", "a\n__proto__x", "\ud800", "\udc00x", "\ud83d\ude00"),
  );
  const batch = fc.uniqueArray(fc.tuple(name, reading), {
    selector: ([n]) => n,
    minLength: 1,
    maxLength: 12,
  });
  fc.assert(
    fc.property(batch, fc.boolean(), (pairs, iso) => {
      const time: TimeOptions | undefined = iso ? { time: "iso", utc: true } : undefined;
      const t = pairs[0]![1].t;
      const readings = pairs.map(([device, r]) => ({ t, device, values: r.values }));
      const names = pairs.map(([device]) => device);
      const values = pairs.map(([, r]) => r.values);
      assert.equal(batchDocument(t, names, values, time), readingsDocument(readings, time));
    }),
    { numRuns: 2000 },
  );
});
