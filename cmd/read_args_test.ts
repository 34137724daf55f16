import assert from "node:assert/strict";
import fc from "fast-check";
import { parseReadArgs } from "./read_args.ts";
import { plainReadArgs, readOptions } from "./read.ts";

/** What parseReadArgs gives for `args`, or the error it throws (name and message). */
function parsed(args: string[]): unknown {
  try {
    return parseReadArgs(args);
  } catch (err) {
    return { error: (err as Error).name, message: (err as Error).message };
  }
}

Deno.test("readOptions gives what parseReadArgs gives, flags or none", async () => {
  const arg = fc.oneof(
    fc.constantFrom(
      "ca://B:pv1",
      "ca://B:pv2",
      "gauge",
      "--timeout",
      "2s",
      "-t",
      "-1s",
      "--json",
      "--compact",
      "--time",
      "iso",
      "--utc",
      "-a",
      "p,q",
      "--describe",
      "--",
      "-x",
      "--nope",
      "a\n-b",
      "",
    ),
    fc.string(),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(arg, { maxLength: 8 }), async (args) => {
      let got: unknown;
      try {
        got = await readOptions([...args]);
      } catch (err) {
        got = { error: (err as Error).name, message: (err as Error).message };
      }
      assert.deepStrictEqual(got, parsed([...args]));
    }),
  );
});

Deno.test("a read naming no flag has the options parseReadArgs gives it", () => {
  const pvs = Array.from({ length: 1000 }, (_, i) => `ca://B:pv${i}`);
  assert.deepStrictEqual(plainReadArgs(pvs), parseReadArgs(pvs));
  assert.deepStrictEqual(plainReadArgs([]), parseReadArgs([]));
});
