/**
 * Attributes: what a device exposes, typed, with units and read/write flags (tomato's driver
 * attributes, extended with EPICS' control fields). Writes are validated here before any I/O.
 *
 * @module
 */
import { NotFound, WriteRejected } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/** The value types an attribute can hold. */
export type AttrType = "number" | "integer" | "boolean" | "string" | "enum" | "number[]";

/** One value of an attribute; `null` means "no value" (e.g. a failed field). */
export type Value = number | boolean | string | number[] | null;

/** A set of attribute values keyed by attribute name. */
export type Values = Record<string, Value>;

/** The declaration of one attribute of a device. */
export interface Attr {
  /** snake_case name, stable across versions: it is the JSON key. */
  name: string;
  /** Value type; writes are checked against it. */
  type: AttrType;
  /** True when the attribute can be written. */
  rw: boolean;
  /** True when the attribute is part of the default reading. */
  status: boolean;
  /** Physical units, e.g. "torr"; absent for dimensionless values. */
  units?: string;
  /** Lowest value a write may set (inclusive). */
  min?: number;
  /** Highest value a write may set (inclusive). */
  max?: number;
  /** The choices of an `enum` attribute. */
  options?: string[];
  /** Decimal digits worth showing. */
  precision?: number;
  /** One line saying what the attribute is. */
  description?: string;
  /** For an `enum`: a state may also be written by its index (EPICS DBF_ENUM, as `caput PV 2`). */
  indexed?: boolean;
  /** Display, warning, alarm and control ranges as an EPICS PV publishes them (DBR_CTRL). */
  limits?: AttrLimits;
  /** Number of elements of an array (EPICS element count), when the device knows it. */
  elements?: number;
}

/** One range of {@linkcode AttrLimits}; `null` for a bound that is not set (EPICS: NaN). */
export interface AttrRange {
  /** Lower bound. */
  low: number | null;
  /** Upper bound. */
  high: number | null;
}

/** The ranges of an EPICS PV (cainfo, `caget -d DBR_CTRL_DOUBLE`): LOPR/HOPR, LOW/HIGH, LOLO/HIHI, DRVL/DRVH. */
export interface AttrLimits {
  /** Display range (LOPR, HOPR). */
  display: AttrRange;
  /** Warning (minor alarm) limits (LOW, HIGH). */
  warning: AttrRange;
  /** Alarm (major alarm) limits (LOLO, HIHI). */
  alarm: AttrRange;
  /** Control range (DRVL, DRVH): writes outside are clipped or refused by the record. */
  control: AttrRange;
}

/** Shorthand for declaring an attribute: the defaults are read-only, part of the reading. */
export function attr(name: string, type: AttrType, extra: Partial<Attr> = {}): Attr {
  return { name, type, rw: false, status: true, ...extra };
}

/**
 * Parses the text form of a value (from a command line) into the attribute's type.
 *
 * @example
 * ```ts
 * import { attr, parseValue } from "./attr.ts";
 * parseValue(attr("position", "number", { rw: true }), "2.5"); // 2.5
 * ```
 */
export function parseValue(a: Attr, text: string): Value {
  switch (a.type) {
    case "number":
    case "integer": {
      const n = Number(text.trim());
      if (text.trim() === "" || !Number.isFinite(n)) {
        throw new WriteRejected(`${a.name}: expected a number, got "${text}"`, a.name);
      }
      return n;
    }
    case "boolean": {
      const t = text.trim().toLowerCase();
      if (["1", "true", "on", "yes"].includes(t)) return true;
      if (["0", "false", "off", "no"].includes(t)) return false;
      throw new WriteRejected(`${a.name}: expected true or false, got "${text}"`, a.name);
    }
    case "number[]": {
      const parts = text.split(/[,\s]+/).filter((s) => s !== "");
      return parts.map((p) => {
        const n = Number(p);
        if (!Number.isFinite(n)) {
          throw new WriteRejected(`${a.name}: expected numbers, got "${p}"`, a.name);
        }
        return n;
      });
    }
    default:
      return text;
  }
}

/**
 * Finds the enum option a person meant: the exact option, else the one option equal to `text`
 * ignoring case and spaces (`ac v` → `AC V`, `10V` → `10 V`), else the one option that is `text`
 * followed by a unit (`10` → `10 V`; `100` is refused when both `100 mV` and `100 V` exist).
 *
 * @example
 * ```ts
 * import { enumOption } from "./attr.ts";
 * enumOption(["AUTO", "1 V", "10 V"], "10"); // "10 V"
 * ```
 */
export function enumOption(options: readonly string[], text: string): string | undefined {
  if (options.includes(text)) return text;
  const squash = (s: string) => s.toLowerCase().replaceAll(/\s+/g, "");
  const wanted = squash(text);
  if (wanted === "") return undefined;
  const same = options.filter((o) => squash(o) === wanted);
  if (same.length === 1) return same[0];
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(wanted)) return undefined;
  const withUnit = options.filter((o) => {
    const m = /^\s*([+-]?[\d.]+(?:[eE][+-]?\d+)?)\s*[^\d\s.]\S*\s*$/.exec(o);
    return m !== null && Number(m[1]) === Number(wanted);
  });
  return withUnit.length === 1 ? withUnit[0] : undefined;
}

/**
 * Checks a value against an attribute's declaration and returns it normalised; throws
 * {@linkcode WriteRejected} (before any I/O) when the write cannot be allowed.
 *
 * @example
 * ```ts
 * import { attr, validateWrite } from "./attr.ts";
 * const pos = attr("position", "number", { rw: true, min: -10, max: 10 });
 * validateWrite(pos, 3); // 3
 * ```
 */
export function validateWrite(a: Attr, value: unknown): Value {
  if (!a.rw) throw new WriteRejected(`${a.name} is read-only`, a.name);
  const v = typeof value === "string" && a.type !== "string" && a.type !== "enum"
    ? parseValue(a, value)
    : value;
  switch (a.type) {
    case "number":
    case "integer": {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new WriteRejected(`${a.name}: expected a number, got ${JSON.stringify(v)}`, a.name);
      }
      if (a.type === "integer" && !Number.isInteger(v)) {
        throw new WriteRejected(`${a.name}: expected an integer, got ${v}`, a.name);
      }
      checkLimits(a, v);
      return v;
    }
    case "boolean":
      if (typeof v !== "boolean") {
        throw new WriteRejected(
          `${a.name}: expected true or false, got ${JSON.stringify(v)}`,
          a.name,
        );
      }
      return v;
    case "string":
      if (typeof v !== "string") {
        throw new WriteRejected(`${a.name}: expected a string, got ${JSON.stringify(v)}`, a.name);
      }
      return v;
    case "enum":
      return enumChoice(a, v);
    case "number[]": {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
        throw new WriteRejected(`${a.name}: expected an array of numbers`, a.name);
      }
      for (const x of v) checkLimits(a, x as number);
      return v as number[];
    }
  }
}

/**
 * The enum option `v` means. For an `indexed` attribute (an EPICS enum) as EPICS resolves
 * `caput PV 2`: a state's exact name, else a whole number as the state's index, else
 * {@linkcode enumOption}'s forgiving match; otherwise a number is an index, text a match.
 */
function enumChoice(a: Attr, v: unknown): string {
  const options = a.options ?? [];
  const digits = typeof v === "string" && /^\s*\d+\s*$/.test(v);
  let index = typeof v === "number" ? v : undefined;
  if (a.indexed && digits && !options.includes(v as string)) index = Number(v);
  if (index !== undefined) {
    if (Number.isInteger(index) && index >= 0 && index < options.length) {
      return options[index] as string;
    }
  } else if (typeof v === "string") {
    const chosen = enumOption(options, v);
    if (chosen !== undefined) return chosen;
  }
  if (a.indexed) {
    throw new WriteRejected(
      `${a.name}: ${JSON.stringify(v)} is not a state of this PV; write a state's name or its ` +
        `index: ${options.map((o, i) => `${i} "${o}"`).join(", ")}`,
      a.name,
    );
  }
  throw new WriteRejected(
    `${a.name}: ${JSON.stringify(v)} is not one of ${options.map((o) => `"${o}"`).join(", ")}`,
    a.name,
  );
}

function checkLimits(a: Attr, v: number): void {
  if (a.min !== undefined && v < a.min) {
    throw new WriteRejected(
      `${a.name}: ${v} is below the lower limit ${a.min}${a.units ? ` ${a.units}` : ""}`,
      a.name,
    );
  }
  if (a.max !== undefined && v > a.max) {
    throw new WriteRejected(
      `${a.name}: ${v} is above the upper limit ${a.max}${a.units ? ` ${a.units}` : ""}`,
      a.name,
    );
  }
}

/** Finds an attribute by name or throws a usage error listing the device's attributes. */
export function findAttr(attrs: readonly Attr[], name: string, device = "device"): Attr {
  const a = attrs.find((x) => x.name === name);
  if (!a) {
    const names = attrs.map((x) => x.name);
    throw new NotFound(
      `${device} has no attribute "${name}"; it has: ${names.join(", ")}`,
      didYouMean(name, names) || undefined,
    );
  }
  return a;
}
