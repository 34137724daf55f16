/**
 * Targets of the benchmarks: every script under tests/bench/ checks its figures here against the
 * targets of the issue that introduced them, so every figure is printed in one format and a miss
 * makes the script exit non-zero:
 *
 *     OK     | fanout | p99 lateness | 7.83 ms | <= 10 ms
 *     MISSED | serve | GET /metrics req/s vs bare | 78.2 % | >= 85 %
 *
 * (fields split on ` | `: result, bench, figure, measured, target). When `LABWIRE_BENCH_FIGURES`
 * names a file, each figure is also appended to it as one JSON line ({@link Figure}); that is how
 * `deno task bench` (tests/bench/run.ts) builds its summary table.
 *
 * @example
 * ```ts ignore
 * const targets = new Targets("fanout");
 * targets.check("missed deadlines", missed, "<=", 0);
 * targets.check("p99 lateness", p99, "<=", 10, "ms");
 * targets.finish(); // exits 1 if any figure missed
 * ```
 *
 * @module
 */

/** How a measured figure compares with its limit. */
export type Op = "<=" | ">=";

/** One checked figure, as written to `LABWIRE_BENCH_FIGURES`. */
export interface Figure {
  /** Benchmark name (as on `deno task bench NAME`). */
  bench: string;
  /** What was measured. */
  figure: string;
  /** The measured value with its unit, as printed. */
  measured: string;
  /** The target, e.g. `<= 10 ms`. */
  target: string;
  /** Whether the target was met. */
  ok: boolean;
}

/** Environment variable naming the JSON-lines file figures are appended to. */
export const FIGURES_ENV = "LABWIRE_BENCH_FIGURES";

/** Formats a number for a figure line: integers as is, others to 3 significant digits (at most 2 decimals from 1 up). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  const abs = Math.abs(x);
  return String(abs >= 100 ? +x.toFixed(1) : abs >= 1 ? +x.toFixed(2) : +x.toPrecision(3));
}

/** Renders a figure as its one output line. */
export function figureLine(f: Figure): string {
  return [f.ok ? "OK    " : "MISSED", f.bench, f.figure, f.measured, f.target].join(" | ");
}

/** Parses a line printed by {@link figureLine}; undefined for any other line. */
export function parseFigureLine(line: string): Figure | undefined {
  const m = /^(OK|MISSED) *\| (.+?) \| (.+?) \| (.+?) \| (.+)$/.exec(line);
  if (!m) return undefined;
  return { ok: m[1] === "OK", bench: m[2]!, figure: m[3]!, measured: m[4]!, target: m[5]! };
}

/** The figures of one benchmark run: checks, prints and records them; exits non-zero on a miss. */
export class Targets {
  /** Every figure checked so far. */
  readonly figures: Figure[] = [];

  /** `bench` is the name `deno task bench` knows the script by. */
  constructor(readonly bench: string) {}

  /**
   * Checks `measured` against `op limit` (a NaN measurement misses) and prints its line.
   * Returns whether the target was met.
   */
  check(figure: string, measured: number, op: Op, limit: number, unit = ""): boolean {
    const ok = op === "<=" ? measured <= limit : measured >= limit;
    const u = unit ? ` ${unit}` : "";
    return this.#record({
      bench: this.bench,
      figure,
      measured: `${formatNumber(measured)}${u}`,
      target: `${op} ${formatNumber(limit)}${u}`,
      ok,
    });
  }

  /** Records a yes/no property (e.g. "every update delivered"): `ok` says whether it holds. */
  require(figure: string, ok: boolean, measured: string, target: string): boolean {
    return this.#record({ bench: this.bench, figure, measured, target, ok });
  }

  /**
   * A peer the benchmark cannot run without is absent: records the miss, says on stderr what to
   * install, and exits 1 (a benchmark that was asked to run and could not has not met anything).
   */
  missingPeer(missing: string[], hint: string): never {
    console.error(`${this.bench}: cannot run without ${missing.join(", ")}; ${hint}`);
    this.require("peers present", false, `missing ${missing.join(", ")}`, "all present");
    return this.finish();
  }

  /** True when every figure so far met its target. */
  get ok(): boolean {
    return this.figures.every((f) => f.ok);
  }

  /** Exits the process: 1 if any figure missed or none was checked, else 0. */
  finish(): never {
    if (this.figures.length === 0) {
      console.error(`${this.bench}: no figure was checked`);
      Deno.exit(1);
    }
    Deno.exit(this.ok ? 0 : 1);
  }

  #record(f: Figure): boolean {
    this.figures.push(f);
    console.log(figureLine(f));
    const path = Deno.env.get(FIGURES_ENV);
    if (path) Deno.writeTextFileSync(path, JSON.stringify(f) + "\n", { append: true });
    return f.ok;
  }
}
