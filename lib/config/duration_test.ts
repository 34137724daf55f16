import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { parseDuration } from "./duration.ts";

Deno.test("parseDuration: hundreds of digits are a usage error, not an infinite duration", () => {
  assert.throws(() => parseDuration("9".repeat(400) + "s"), UsageError);
  assert.throws(() => parseDuration("1" + "0".repeat(320)), UsageError);
  assert.throws(() => parseDuration(1e308, "s"), UsageError);
});
