import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { durationFlag, intFlag, listFlag, parseFlags } from "./flags.ts";
import { closest } from "../device/suggest.ts";

Deno.test("parseFlags suggests the closest flag for a typo", () => {
  assert.throws(
    () => parseFlags(["--intervall", "2s"], { interval: { type: "string" } }, "stream"),
    (e) =>
      e instanceof UsageError && /unknown flag --intervall/.test(e.message) &&
      /"--interval"/.test(e.hint ?? ""),
  );
  // Two as likely: each named as a flag
  assert.throws(
    () =>
      parseFlags(
        ["--timeo", "2s"],
        { time: { type: "string" }, timeout: { type: "string" } },
        "read",
      ),
    (e) =>
      e instanceof UsageError &&
      e.hint === 'did you mean "--timeout" or "--time"? see: labwire read --help',
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

Deno.test("a negative-looking value belongs to its flag, and its check says what is wrong", () => {
  const specs = { timeout: { type: "string" as const, short: "t" } };
  assert.equal(parseFlags(["--timeout", "-1s", "T"], specs).values.timeout, "-1s");
  assert.equal(parseFlags(["-t", "-2", "T"], specs).values.timeout, "-2");
  assert.throws(
    () => durationFlag(parseFlags(["--timeout", "-1s"], specs), "timeout"),
    (e: unknown) => e instanceof UsageError && /^--timeout: "-1s" is negative/.test(e.message),
  );
  assert.throws(
    () => durationFlag(parseFlags(["--timeout", "0"], specs), "timeout"),
    /--timeout: "0" is too short: expected a duration ≥ 1ms/,
  );
  assert.equal(durationFlag(parseFlags(["--timeout", "2"], specs), "timeout"), 2000);
  assert.equal(durationFlag(parseFlags(["--timeout=250ms"], specs), "timeout"), 250);
  // after --, everything is positional
  assert.deepEqual(parseFlags(["--", "--timeout", "-1"], specs).positionals, ["--timeout", "-1"]);
});
