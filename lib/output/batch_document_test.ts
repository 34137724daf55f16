import assert from "node:assert/strict";
import fc from "fast-check";
import { splicedBatchDocument } from "./batch_document.ts";
import { readingsDocument } from "./record.ts";

Deno.test("splicedBatchDocument is readingsDocument of the batch's readings, or undefined", () => {
  const name = fc.oneof(
    fc.string(),
    fc.constantFrom("7", "__proto__", "B:pv000001", 'a"b', "a\n7", "\ud800", "\ud83d\ude00"),
  );
  const values = fc.dictionary(
    fc.oneof(fc.string(), fc.constantFrom("t", "device", "error", "value")),
    fc.oneof(fc.double(), fc.string(), fc.boolean(), fc.constant(null)),
  );
  const batch = fc.uniqueArray(fc.tuple(name, values), {
    selector: ([n]) => n,
    maxLength: 8,
  });
  fc.assert(
    fc.property(batch, fc.boolean(), (pairs, iso) => {
      const time = iso ? { time: "iso" as const, utc: true } : undefined;
      const names = pairs.map(([n]) => n);
      const doc = splicedBatchDocument(1764088800.5, names, pairs.map(([, v]) => v), time);
      if (doc === undefined) return;
      const readings = pairs.map(([device, v]) => ({ t: 1764088800.5, device, values: v }));
      assert.equal(doc, readingsDocument(readings, time));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("splicedBatchDocument leaves to readingsDocument what an object orders or keys", () => {
  // An object puts index-like keys first and has no own "__proto__"; a value named t, device or
  // error replaces the record's key: readingsDocument builds those the object's way.
  assert.equal(splicedBatchDocument(1, ["a", "7"], [{ p: 1 }, { p: 2 }]), undefined);
  assert.equal(splicedBatchDocument(1, ["__proto__"], [{ p: 1 }]), undefined);
  assert.equal(splicedBatchDocument(1, ["a"], [{ t: 1 }]), undefined);
  assert.equal(splicedBatchDocument(1, ["a"], [{ error: "x" }]), undefined);
  assert.equal(
    splicedBatchDocument(1, ["a", "b"], [{ p: 2 }, {}]),
    '{"a":{"t":1,"device":"a","p":2},"b":{"t":1,"device":"b"}}\n',
  );
});
