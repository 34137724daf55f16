import assert from "node:assert/strict";
import { countShortfall } from "./stream.ts";

Deno.test("countShortfall: a device short of its N lines, or with only failed ones, is named; others are not", () => {
  const ok = { device: "thermo", printed: 5, failed: 1, lastError: "late" };
  assert.equal(countShortfall(5, [ok]), undefined, "every line printed, one of them failed");
  assert.equal(
    countShortfall(5, [ok, { device: "gauge", printed: 2, failed: 2, lastError: "no answer" }]),
    "gauge: 3 of 5 readings missing, 2 failed (last error: no answer)",
  );
  assert.equal(
    countShortfall(4, [{ device: "slow", printed: 3, failed: 0 }]),
    "slow: 1 of 4 readings missing (its reads overran the interval; allow a longer --interval)",
  );
  assert.equal(
    countShortfall(3, [
      { device: "a", printed: 3, failed: 3, lastError: "refused" },
      { device: "b", printed: 0, failed: 0 },
    ]),
    "a: all 3 readings failed (last error: refused); " +
      "b: 3 of 3 readings missing (its reads overran the interval; allow a longer --interval)",
  );
  assert.equal(
    countShortfall(1, [{ device: "g", printed: 1, failed: 1, lastError: "x" }]),
    "g: its reading failed (last error: x)",
  );
});
