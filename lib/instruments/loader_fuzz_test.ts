import fc from "fast-check";
import { parse, stringify } from "smol-toml";
import { ConfigError } from "../device/errors.ts";
import { fuzzTest, onlyThrows } from "../../tests/fuzz_runs.ts";
import { BUILTIN_DEFINITIONS } from "./builtin.ts";
import { parseDefinition, type RawEntry, resolveEntry } from "./loader.ts";

const catalog = new Map<string, RawEntry>(
  Object.entries(BUILTIN_DEFINITIONS).map(([name, text]) => {
    const e = parseDefinition(text, `built-in:${name}.toml`);
    return [e.name, e];
  }),
);
const DOCS = Object.values(BUILTIN_DEFINITIONS).map((t) => parse(t) as Record<string, unknown>);

/** Values that a definition key might wrongly hold. */
const replacement = fc.oneof(
  fc.constantFrom("(", "[a-", "%d", "%999.999f", "{value}", "{nope}", "MEAS?", "", "\\x", "*"),
  fc.constantFrom(-1, 0, 1, 2 ** 31, 1e308, 0.5, true, false, ["a"], [1, 2], { a: 1 }),
  fc.string({ maxLength: 6 }),
);

type Doc = Record<string, unknown>;

/** Every path to a leaf value of a TOML document. */
function paths(doc: unknown, prefix: string[] = []): string[][] {
  if (typeof doc !== "object" || doc === null) return [prefix];
  const out: string[][] = [prefix];
  for (const [k, v] of Object.entries(doc)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function mutate(doc: Doc, path: string[], op: "delete" | "set" | "rename", value: unknown): Doc {
  const copy = structuredClone(doc);
  if (path.length === 0) return copy;
  let node = copy as Record<string, unknown>;
  // Own keys only: an earlier edit may have put an array where a table was, whose inherited
  // `values` or `map` (functions) a rename would copy into the document.
  for (const k of path.slice(0, -1)) {
    const next = Object.hasOwn(node, k) ? node[k] : undefined;
    if (typeof next !== "object" || next === null) return copy; // an earlier edit removed it
    node = next as Record<string, unknown>;
  }
  const last = path.at(-1)!;
  if (op === "rename" && !Object.hasOwn(node, last)) return copy;
  if (op === "delete") delete node[last];
  else if (op === "set") node[last] = value;
  else {
    node[`${last}x`] = node[last];
    delete node[last];
  }
  return copy;
}

/** A built-in definition with a few keys deleted, renamed or given wrong values. */
const mutated = fc.nat(DOCS.length - 1).chain((i) => {
  const doc = DOCS[i]!;
  const all = paths(doc);
  return fc.array(
    fc.tuple(
      fc.nat(all.length - 1),
      fc.constantFrom("delete", "set", "set", "rename") as fc.Arbitrary<"set">,
      replacement,
    ),
    { minLength: 1, maxLength: 3 },
  ).map((ops) => ops.reduce((d, [p, op, v]) => mutate(d, all[p]!, op, v), doc));
});

// A user's definition is a file like the config: any mistake in it is a ConfigError naming the
// file and key, found when it is loaded or compiled, never an exception from deeper down.
fuzzTest(
  "instrument definitions: a damaged built-in definition loads or is a ConfigError",
  mutated,
  (doc) => {
    const text = onlyThrows([Error], () => stringify(doc));
    if (text === undefined) return; // not expressible in TOML
    const entry = onlyThrows([ConfigError], () => parseDefinition(text, "user.toml"));
    if (entry === undefined) return;
    onlyThrows([ConfigError], () => resolveEntry(entry, catalog));
  },
  { quickRuns: 500 }, // a definition takes ~3 ms to load and compile
);
