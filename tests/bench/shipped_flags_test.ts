import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { SHIPPED_V8_FLAGS, taskV8Flags } from "./shipped_flags.ts";

Deno.test("the binary, `deno task labwire` and `deno task demo` run with the same V8 flags", () => {
  assert.notEqual(SHIPPED_V8_FLAGS, "");
  assert.equal(taskV8Flags(denoJson.tasks.labwire), SHIPPED_V8_FLAGS);
  assert.equal(taskV8Flags(denoJson.tasks.demo), SHIPPED_V8_FLAGS);
});
