/**
 * The command-line forms of plans, Spec style: `ascan motor.position 0 10 21`,
 * `a2scan m1.position 0 1 m2.position 0 2 11`, `mesh m1.position 0 1 3 m2.position 0 1 4`,
 * `list motor.position 1,2,5`, `count 10`. Pure: files named by `@FILE` in list scans are read
 * through the given function.
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { makePlan, type PlanSpec } from "./plan.ts";

/** The plan names the CLI and plan files accept, with one line each for `--help`. */
export const PLAN_NAMES: Record<string, string> = {
  ascan: "POS START STOP [POS START STOP …] N — absolute line scan (a2scan, a3scan … too)",
  dscan: "POS START STOP [POS START STOP …] N — relative to the start, returns there",
  lup: "POS START STOP N — Spec's name for dscan",
  mesh: "POS START STOP N [POS START STOP N …] — grid, first axis outermost (grid too)",
  dmesh: "… — relative mesh",
  list: "POS V1,V2,… [POS V1,V2,…] — explicit positions; @FILE reads them from a file",
  dlist: "… — relative list",
  count: "N — N readings of the detectors, no positioner",
};

/**
 * Every plan name a command line may start with: {@linkcode PLAN_NAMES} and the numbered and
 * alias forms they cover (what shell completion offers and a typo is matched against).
 */
export const PLAN_WORDS: readonly string[] = [
  ...Object.keys(PLAN_NAMES),
  "a2scan",
  "d2scan",
  "a3scan",
  "grid",
];

/** Options of plan parsing that are flags rather than positional words. */
export interface PlanArgOptions {
  /** Log spacing for line scans. */
  log?: boolean;
  /** Snake order for meshes. */
  snake?: boolean;
  /** Reads a `@FILE` of a list scan. */
  readFile?: (path: string) => string;
}

/**
 * Parses a plan name and its words into a spec (validated by {@linkcode makePlan}).
 *
 * @example
 * ```ts
 * import { parsePlanArgs } from "./plan_args.ts";
 * parsePlanArgs("dscan", ["motor.position", "-1", "1", "5"]).kind; // "line"
 * ```
 */
export function parsePlanArgs(
  name: string,
  words: readonly string[],
  opts: PlanArgOptions = {},
): PlanSpec {
  const spec = build(name, words, opts);
  makePlan(spec, { maxPoints: Infinity }); // shape only: the verb applies its point limit
  return spec;
}

function build(name: string, words: readonly string[], opts: PlanArgOptions): PlanSpec {
  // Spec's "line-up scan" is a relative line scan: the same plan as dscan
  const line = /^([ad])(\d*)scan$/.exec(name === "lup" ? "dscan" : name);
  if (line) {
    const relative = line[1] === "d";
    const want = line[2] ? Number(line[2]) : undefined;
    const usage = `${name} POS START STOP${want === 1 || !want ? " [POS START STOP …]" : ""} N`;
    if (words.length < 4 || (words.length - 1) % 3 !== 0) {
      throw new UsageError(`${name}: expected ${usage}, got ${words.length} words`);
    }
    const axes = [];
    for (let i = 0; i + 1 < words.length; i += 3) {
      axes.push({
        positioner: words[i]!,
        start: num(words[i + 1]!, `${name} start`),
        stop: num(words[i + 2]!, `${name} stop`),
      });
    }
    if (want !== undefined && axes.length !== want) {
      throw new UsageError(`${name} moves ${want} positioner(s); got ${axes.length}`);
    }
    if (opts.snake) throw new UsageError(`${name}: --snake applies to mesh scans`);
    return {
      kind: "line",
      relative,
      axes,
      num: int(words.at(-1)!, `${name} number of points`),
      spacing: opts.log ? "log" : "linear",
    };
  }
  if (opts.log) throw new UsageError(`${name}: --log applies to ascan/dscan-style scans`);
  if (name !== "mesh" && name !== "grid" && name !== "dmesh" && opts.snake) {
    throw new UsageError(`${name}: --snake applies to mesh scans`);
  }
  switch (name) {
    case "mesh":
    case "grid":
    case "dmesh": {
      if (words.length === 0 || words.length % 4 !== 0) {
        throw new UsageError(
          `${name}: expected POS START STOP N [POS START STOP N …], got ${words.length} words`,
        );
      }
      const axes = [];
      for (let i = 0; i < words.length; i += 4) {
        axes.push({
          positioner: words[i]!,
          start: num(words[i + 1]!, `${name} start`),
          stop: num(words[i + 2]!, `${name} stop`),
          num: int(words[i + 3]!, `${name} number of points`),
        });
      }
      return { kind: "mesh", relative: name === "dmesh", axes, snake: opts.snake ?? false };
    }
    case "list":
    case "dlist": {
      if (words.length === 0 || words.length % 2 !== 0) {
        throw new UsageError(
          `${name}: expected POS V1,V2,… [POS V1,V2,…], got ${words.length} words`,
        );
      }
      const positioners: string[] = [];
      const columns: number[][] = [];
      for (let i = 0; i < words.length; i += 2) {
        positioners.push(words[i]!);
        columns.push(values(words[i + 1]!, words[i]!, opts.readFile));
      }
      const n = columns[0]!.length;
      columns.forEach((c, k) => {
        if (c.length !== n) {
          throw new UsageError(
            `${name}: ${positioners[k]} has ${c.length} positions but ${positioners[0]} has ${n}`,
          );
        }
      });
      const points = Array.from({ length: n }, (_, i) => columns.map((c) => c[i]!));
      return { kind: "list", relative: name === "dlist", positioners, points };
    }
    case "count": {
      if (words.length !== 1) throw new UsageError(`count: expected N, got ${words.length} words`);
      return { kind: "count", num: int(words[0]!, "count N") };
    }
    default: {
      throw new UsageError(
        `unknown scan plan "${name}"; plans: ${Object.keys(PLAN_NAMES).join(", ")}`,
        didYouMean(name, PLAN_WORDS) || "see: labwire scan --help",
      );
    }
  }
}

/** Parses a list of positions: `1,2,5`, or `@FILE` with numbers separated by commas or spaces. */
function values(word: string, positioner: string, readFile?: (path: string) => string): number[] {
  let text = word;
  if (word.startsWith("@")) {
    if (!readFile) throw new UsageError(`${positioner}: cannot read ${word} here`);
    text = readFile(word.slice(1)).replace(/#.*$/gm, "");
  }
  const parts = text.split(/[,\s]+/).filter((s) => s !== "");
  if (parts.length === 0) throw new UsageError(`${positioner}: no positions in "${word}"`);
  return parts.map((p) => num(p, positioner));
}

function num(word: string, what: string): number {
  const n = Number(word);
  if (word.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`${what}: expected a number, got "${word}"`);
  }
  return n;
}

function int(word: string, what: string): number {
  const n = Number(word);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`${what}: expected a whole number ≥ 1, got "${word}"`);
  }
  return n;
}
