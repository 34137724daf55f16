import assert from "node:assert/strict";
import { isConfigFile } from "./file_name.ts";

Deno.test("isConfigFile: a path is a file on disk; a built-in bench's label or nothing is not", () => {
  assert.equal(isConfigFile("/lab/bench.toml"), true);
  assert.equal(isConfigFile("<demo bench>"), false);
  assert.equal(isConfigFile(""), false);
  assert.equal(isConfigFile(undefined), false);
});
