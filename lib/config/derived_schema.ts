/**
 * `[derived.NAME]` tables: a device made of attributes computed from other devices' attributes
 * with the expression language of `lib/device/expression.ts`:
 *
 * ```toml
 * [derived.vacuum]
 * interval = "1s"                                    # sampling interval (default 1 s)
 * pressure_mbar = { expr = "gauge.pressure * 1.33322", units = "mbar", precision = 4 }
 * leak = "gauge.pressure > 1e-3"                     # short form: the expression alone
 * ```
 *
 * Every expression is parsed here, so a syntax error is a config error naming its key. Which
 * devices the references name is checked once every section is known ({@linkcode checkDerived}).
 *
 * @module
 */
import { z } from "zod";
import { duration, fail, isTable } from "./fields.ts";
import { INTERVAL_RULE } from "./duration.ts";
import { parseExpression } from "../device/expression.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";

/** One derived attribute as configured. */
export interface DerivedAttrConfig {
  /** Attribute name. */
  name: string;
  /** The expression text. */
  expr: string;
  /** Units shown with its values. */
  units?: string;
  /** Decimal digits worth showing. */
  precision?: number;
  /** One line for `read --describe`; default: the expression. */
  description?: string;
}

/** A validated `[derived.NAME]` table. */
export interface DerivedTable {
  /** Sampling interval, ms. */
  interval?: number;
  /** Its attributes, in file order. */
  attrs: DerivedAttrConfig[];
}

const ATTR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ATTR_KEYS = ["expr", "units", "precision", "description"];
const INTERVAL = duration(INTERVAL_RULE);

function attrConfig(
  name: string,
  v: unknown,
  ctx: z.RefinementCtx,
  path: PropertyKey[],
): DerivedAttrConfig | undefined {
  const entry = typeof v === "string" ? { expr: v } : v;
  if (!isTable(entry)) {
    fail(
      ctx,
      'expected an expression "dev.attr * 2" or { expr = "…", units = "…" }',
      undefined,
      path,
    );
    return undefined;
  }
  for (const k of Object.keys(entry)) {
    if (!ATTR_KEYS.includes(k)) {
      fail(
        ctx,
        `unknown key; a derived attribute takes: ${ATTR_KEYS.join(", ")}`,
        didYouMean(k, ATTR_KEYS) || undefined,
        [...path, k],
      );
      return undefined;
    }
  }
  if (typeof entry.expr !== "string") {
    fail(ctx, 'expected expr = "an expression like gauge.pressure * 1.33322"', undefined, [
      ...path,
      "expr",
    ]);
    return undefined;
  }
  try {
    parseExpression(entry.expr);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    fail(ctx, err.message, err.hint, typeof v === "string" ? path : [...path, "expr"]);
    return undefined;
  }
  const out: DerivedAttrConfig = { name, expr: entry.expr };
  if (entry.units !== undefined) {
    if (typeof entry.units !== "string") {
      fail(ctx, 'expected units = "mbar"', undefined, [...path, "units"]);
      return undefined;
    }
    out.units = entry.units;
  }
  if (entry.precision !== undefined) {
    const p = entry.precision;
    if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > 17) {
      fail(ctx, "expected a whole number of decimal digits 0 … 17", undefined, [
        ...path,
        "precision",
      ]);
      return undefined;
    }
    out.precision = p;
  }
  if (entry.description !== undefined) {
    if (typeof entry.description !== "string") {
      fail(ctx, "expected a line of text", undefined, [...path, "description"]);
      return undefined;
    }
    out.description = entry.description;
  }
  return out;
}

/** The `[derived]` section: derived devices by name. */
export const DERIVED_SCHEMA = z.unknown().transform((v, ctx): Record<string, DerivedTable> => {
  if (!isTable(v)) return fail(ctx, 'expected tables [derived.NAME] of attr = "expression"');
  const out: Record<string, DerivedTable> = {};
  for (const [device, table] of Object.entries(v)) {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(device)) {
      return fail(ctx, "device names use letters, digits, _ and -", undefined, [device]);
    }
    if (!isTable(table)) {
      return fail(ctx, 'expected a table: [derived.NAME] attr = "expression"', undefined, [device]);
    }
    const t: DerivedTable = { attrs: [] };
    for (const [key, value] of Object.entries(table)) {
      if (key === "interval") {
        const r = INTERVAL.safeParse(value);
        if (!r.success) {
          return fail(ctx, r.error.issues[0]!.message, undefined, [device, "interval"]);
        }
        t.interval = r.data;
        continue;
      }
      if (!ATTR_NAME.test(key)) {
        return fail(ctx, "attribute names use letters, digits and _", undefined, [device, key]);
      }
      const a = attrConfig(key, value, ctx, [device, key]);
      if (!a) return z.NEVER;
      t.attrs.push(a);
    }
    if (t.attrs.length === 0) {
      return fail(ctx, 'a derived device needs at least one attr = "expression"', undefined, [
        device,
      ]);
    }
    out[device] = t;
  }
  return out;
});

/**
 * Checks the references of every derived attribute against the devices there are: an unknown
 * device (with a did-you-mean), a derived device naming itself, and a cycle between derived
 * devices are config errors naming the key. Returns each derived device's dependencies.
 */
export function checkDerived(
  derived: Record<string, DerivedTable>,
  deviceNames: readonly string[],
  file: string | undefined,
): Map<string, string[]> {
  const known = [...deviceNames, ...Object.keys(derived)];
  const deps = new Map<string, string[]>();
  for (const [device, t] of Object.entries(derived)) {
    if (deviceNames.includes(device)) {
      throw new ConfigError(
        `"${device}" is both a device and a derived device; rename one`,
        file,
        `derived.${device}`,
      );
    }
    const uses = new Set<string>();
    for (const a of t.attrs) {
      for (const ref of parseExpression(a.expr).refs) {
        const name = ref.slice(0, ref.indexOf("."));
        if (name === device) {
          throw new ConfigError(
            `${ref}: a derived attribute cannot read its own device; repeat the expression instead`,
            file,
            `derived.${device}.${a.name}`,
          );
        }
        if (!known.includes(name)) {
          const hint = didYouMean(name, known);
          throw new ConfigError(
            `${ref}: no device "${name}"; devices: ${known.join(", ")}${hint ? ` (${hint})` : ""}`,
            file,
            `derived.${device}.${a.name}`,
          );
        }
        uses.add(name);
      }
    }
    deps.set(device, [...uses]);
  }
  // a cycle would make every read wait for itself
  const state = new Map<string, "visiting" | "done">();
  const visit = (d: string, path: string[]) => {
    if (state.get(d) === "done" || !deps.has(d)) return;
    if (state.get(d) === "visiting") {
      throw new ConfigError(
        `derived devices read each other in a cycle: ${[...path, d].join(" → ")}`,
        file,
        `derived.${d}`,
      );
    }
    state.set(d, "visiting");
    for (const u of deps.get(d)!) visit(u, [...path, d]);
    state.set(d, "done");
  };
  for (const d of deps.keys()) visit(d, []);
  return deps;
}
