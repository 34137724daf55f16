/**
 * The one place that says how hard the property and fuzz tests (`*_fuzz_test.ts`) push:
 * `LABWIRE_FUZZ_RUNS` cases per property (default 2,000, the quick pass of `deno task test`;
 * `deno task fuzz` sets 100,000), an optional `LABWIRE_FUZZ_SEED` to replay a run, and a
 * per-case bound that turns a hang into a failure naming the input.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { fuzzTest } from "./fuzz_runs.ts";
 * fuzzTest("parseInt never throws", fc.string(), (s) => {
 *   parseInt(s);
 * });
 * ```
 *
 * @module
 */
import fc from "fast-check";

/** Cases per property: `LABWIRE_FUZZ_RUNS`, default 2,000. */
export const FUZZ_RUNS: number = positiveInt("LABWIRE_FUZZ_RUNS", 2000);

/**
 * Longest a single case may take before it counts as a hang, ms (`LABWIRE_FUZZ_CASE_MS`,
 * default 5,000). Generous on purpose: it catches runaway loops and allocations, not slowness.
 */
export const CASE_LIMIT_MS: number = positiveInt("LABWIRE_FUZZ_CASE_MS", 5000);

/** The seed of every property when `LABWIRE_FUZZ_SEED` is set (to replay a reported run). */
export const FUZZ_SEED: number | undefined = seedFromEnv(Deno.env.get("LABWIRE_FUZZ_SEED"));

function seedFromEnv(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new Error(
      `LABWIRE_FUZZ_SEED=${JSON.stringify(text)}: expected the seed a failure printed`,
    );
  }
  return n;
}

/** True under `deno task fuzz` (any explicit `LABWIRE_FUZZ_RUNS`): print one line per property. */
const REPORT = Deno.env.has("LABWIRE_FUZZ_RUNS");

function positiveInt(name: string, fallback: number): number {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`${name}=${JSON.stringify(text)}: expected a whole number ≥ 0`);
  }
  return n;
}

/** Options of {@linkcode fuzzTest}. */
export interface FuzzOptions {
  /**
   * Cases in the quick pass of `deno task test` when one case costs milliseconds (default
   * {@linkcode FUZZ_RUNS}); an explicit `LABWIRE_FUZZ_RUNS` (as `deno task fuzz` sets) wins.
   */
  quickRuns?: number;
  /**
   * Most cases even under `deno task fuzz`, for properties whose case is a conversation over
   * sockets with timeouts (tens of ms each); the report line says when the cap applied.
   */
  maxRuns?: number;
}

/**
 * Registers a `Deno.test` that checks `check` on {@linkcode FUZZ_RUNS} generated inputs. A case
 * fails when `check` throws, returns false, or runs longer than {@linkcode CASE_LIMIT_MS}; the
 * failure is shrunk and reported with its seed. Under `deno task fuzz` it prints
 * `fuzz NAME: N cases, F failures`.
 */
export function fuzzTest<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  check: (value: T) => unknown,
  opts: FuzzOptions = {},
): void {
  Deno.test(`fuzz: ${name}`, async () => {
    const wanted = REPORT ? FUZZ_RUNS : opts.quickRuns ?? FUZZ_RUNS;
    const numRuns = Math.min(wanted, opts.maxRuns ?? Infinity);
    const property = fc.asyncProperty(arb, async (value) => {
      const started = performance.now();
      const result = await check(value);
      const took = performance.now() - started;
      if (took > CASE_LIMIT_MS) {
        throw new Error(`one case took ${Math.round(took)} ms (limit ${CASE_LIMIT_MS} ms)`);
      }
      return result !== false;
    });
    const details = await fc.check(property, {
      numRuns,
      timeout: CASE_LIMIT_MS,
      ...(FUZZ_SEED === undefined ? {} : { seed: FUZZ_SEED }),
    });
    if (REPORT) {
      console.log(
        `fuzz ${name}: ${details.numRuns} cases, ${details.failed ? 1 : 0} failures` +
          (numRuns < wanted ? ` (capped at ${numRuns}: each case is a socket conversation)` : "") +
          (details.failed ? ` (seed ${details.seed})` : ""),
      );
    }
    if (details.failed) {
      const why = details.errorInstance instanceof Error
        ? `\n${details.errorInstance.name}: ${details.errorInstance.message}`
        : "";
      throw new Error((fc.defaultReportMessage(details) ?? "property failed") + why, {
        cause: details.errorInstance,
      });
    }
  });
}

/** An error class, as accepted by {@linkcode onlyThrows}. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/**
 * Runs `fn` and returns its result, or undefined when it threw one of `allowed` (the typed
 * errors a parser documents). Any other exception is rethrown with the class it had, so a
 * `TypeError` or `URIError` escaping a parser fails the property.
 */
export function onlyThrows<R>(allowed: readonly ErrorClass[], fn: () => R): R | undefined {
  try {
    return fn();
  } catch (err) {
    if (allowed.some((c) => err instanceof c)) return undefined;
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new Error(`untyped exception (${what})`, { cause: err });
  }
}

/** Like {@linkcode onlyThrows} for async functions. */
export async function onlyRejects<R>(
  allowed: readonly ErrorClass[],
  fn: () => Promise<R>,
): Promise<R | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (allowed.some((c) => err instanceof c)) return undefined;
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new Error(`untyped exception (${what})`, { cause: err });
  }
}

/**
 * Collects every unhandled promise rejection of this test file (instead of letting it fail the
 * run at once), for a property that asserts there were none after each case.
 */
export function unhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    seen.push(e.reason);
  });
  return seen;
}

/** Cut points (at most `maxLength`), as fractions, for splitting a byte stream into reads. */
export function cutPoints(maxLength: number): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength });
}

/** `bytes` split at the fractions `at` (from {@linkcode cutPoints}): the reads of one stream. */
export function splitAt(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    parts.push(bytes.subarray(from, p));
    from = p;
  }
  return parts;
}
