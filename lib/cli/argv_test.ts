import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { type ArgSpec, parseStrictArgs } from "./argv.ts";

const SPECS: Record<string, ArgSpec> = {
  attrs: { type: "string", short: "a", multiple: true },
  timeout: { type: "string", short: "t" },
  describe: { type: "boolean", short: "d" },
  compact: { type: "boolean" },
  tag: { type: "boolean", short: "g", multiple: true },
  config: { type: "string", short: "c" },
};

/** What node:util's parseArgs makes of `args`: its result, or its error message. */
function reference(args: string[]): unknown {
  try {
    const r = parseArgs({ args, options: SPECS, allowPositionals: true, strict: true });
    return { values: { ...r.values }, positionals: r.positionals };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function ours(args: string[]): unknown {
  try {
    const r = parseStrictArgs(args, SPECS);
    return { values: { ...r.values }, positionals: r.positionals };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const WORDS = [
  "--",
  "-",
  "-a",
  "-t",
  "-d",
  "-g",
  "-c",
  "-x",
  "-ad",
  "-da",
  "-dt5",
  "-dga",
  "-tx",
  "-axy",
  "--attrs",
  "--attrs=p",
  "--timeout",
  "--timeout=2s",
  "--timeout=",
  "--describe",
  "--describe=1",
  "--compact",
  "--tag",
  "--nope",
  "--nope=1",
  "--=x",
  "---x",
  "--__proto__",
  "-1",
  "-1s",
  "2s",
  "sim://gauge",
  "ca://X:m1",
  "value",
  "a,b",
  "",
];

Deno.test("parseStrictArgs gives node:util parseArgs' result or message on every argument list", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...WORDS), { maxLength: 7 }), (args) => {
      assert.deepEqual(ours(args), reference(args), JSON.stringify(args));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("parseStrictArgs: the cases the verbs rely on", () => {
  assert.deepEqual(ours(["-a", "x", "--attrs=y", "-dt2s", "T"]), {
    values: { attrs: ["x", "y"], describe: true, timeout: "2s" },
    positionals: ["T"],
  });
  assert.deepEqual(ours(["--timeout"]), {
    error: "Option '-t, --timeout <value>' argument missing",
  });
  assert.match((ours(["--intervall"]) as { error: string }).error, /^Unknown option '--intervall'/);
  assert.deepEqual(ours(["--", "--timeout", "-1"]), {
    values: {},
    positionals: ["--timeout", "-1"],
  });
});
