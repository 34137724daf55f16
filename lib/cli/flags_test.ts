import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { intFlag, listFlag, parseFlags } from "./flags.ts";
import { closest } from "./suggest.ts";

Deno.test("parseFlags suggests the closest flag for a typo", () => {
  assert.throws(
    () => parseFlags(["--intervall", "2s"], { interval: { type: "string" } }, "stream"),
    (e) =>
      e instanceof UsageError && /unknown flag --intervall/.test(e.message) &&
      /"--interval"/.test(e.hint ?? ""),
  );
});

Deno.test("parseFlags collects lists and integers", () => {
  const f = parseFlags(["-a", "x,y", "--attrs", "z", "--count", "3", "T"], {
    attrs: { type: "string", short: "a", multiple: true },
    count: { type: "string" },
  });
  assert.deepEqual(listFlag(f, "attrs"), ["x", "y", "z"]);
  assert.equal(intFlag(f, "count"), 3);
  assert.deepEqual(f.positionals, ["T"]);
  assert.throws(
    () => intFlag(parseFlags(["--count", "x"], { count: { type: "string" } }), "count"),
    /integer/,
  );
});

Deno.test("closest finds typos and prefixes, not unrelated words", () => {
  assert.equal(closest("stram", ["read", "stream", "scan"]), "stream");
  assert.equal(closest("mon", ["monitor", "read"]), "monitor");
  assert.equal(closest("xyzzy", ["read", "stream"]), undefined);
});
