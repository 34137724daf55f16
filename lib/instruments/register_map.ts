/**
 * Register maps, the data of the `modbus` family: what a register attribute is (a register spec
 * of `registers.ts`, its enum map and write function) and how the
 * `[attrs.NAME]` tables of a `protocol = "modbus"` definition (or a generic device's `registers`
 * in labwire.toml) compile into attributes. Every mistake — a register in no table, an address
 * past 65535, two attributes on the same register, a type that does not fit its table — is a
 * {@linkcode ConfigError} naming the file and the key. The wire encoding of these specs lives in
 * the family's codec (`lib/drivers/modbus/registers.ts`).
 *
 * Addresses: `address` is the 0-based PDU address that goes on the wire; `register` is the
 * manual's 1-based number with its table digit (`40001` is holding register 0, `30001` input
 * register 0, `10001` discrete input 0, `1` coil 0; six digits `400001` work too). Give one.
 *
 * @example
 * ```ts
 * import { compileRegisterAttrs } from "./register_map.ts";
 * const [pv] = compileRegisterAttrs({ pv: { register: 44097, type: "int16", scale: 0.1 } }, { file: "x.toml" });
 * pv.register; // { table: "holding", address: 4096, type: "int16", scale: 0.1, … }
 * ```
 *
 * @module
 */
import type { Attr, AttrType, Value } from "../device/attr.ts";
import { ConfigError } from "../device/errors.ts";
import { parseDuration } from "../config/duration.ts";
import { isTable } from "../config/options.ts";
import type { RawAttr } from "./schema.ts";
import type { ParseRule } from "./template.ts";
import { channelAttrName, channelLimits, claimAttrName } from "./channels.ts";
import {
  DATA_TYPES,
  type DataType,
  describeAddress,
  isBitTable,
  parseRegisterNumber,
  type RegisterSpec,
  type Table,
  TABLES,
  widthOf,
  WORD_ORDERS,
  type WordOrder,
} from "./registers.ts";

/** A register attribute's wire details: where, how encoded, how written. */
export interface RegisterAttr extends RegisterSpec {
  /** Function code of writes (5, 6, 15 or 16); undefined for read-only. */
  write?: 5 | 6 | 15 | 16;
  /** Simulator: the attribute (base name) this one approaches, and how fast (ms). */
  approach?: { base: string; tauMs: number };
}

/** One compiled register attribute: the fields an instrument attribute has, and its register. */
export interface CompiledRegister {
  /** The labwire attribute (name after channel expansion). */
  attr: Attr;
  /** The name before channel expansion. */
  base: string;
  /** Channel placeholder values. */
  vars: Record<string, string>;
  /** The kind of value it gives (for `instruments show` and completions). */
  parse: ParseRule;
  /** Simulator settings. */
  sim: { value?: Value; noise?: number; follows?: string };
  /** Where the value lives and how it is encoded. */
  register: RegisterAttr;
}

/** What {@linkcode compileRegisterAttrs} needs besides the attribute tables. */
export interface RegisterContext {
  /** The definition file (or config file) for errors. */
  file: string;
  /** Key prefix in errors (default `attrs`; a config device's is `devices.NAME.registers`). */
  prefix?: string;
  /** Default word order (default ABCD). */
  wordOrder?: WordOrder;
  /** Channel groups: ids per group. */
  channels?: Record<string, string[]>;
  /** Channel naming pattern per group (`{attr}_{zone}`). */
  channelNames?: Record<string, string>;
}

/** Message-family keys that mean nothing on a register. */
const MESSAGE_KEYS = [
  "get",
  "set",
  "parse",
  "regex",
  "token",
  "mask",
  "split",
  "layout",
  "bits",
  "block",
  "format",
  "values",
  "wait",
  "reply",
] as const;

/** Compiles register attribute tables; throws a {@linkcode ConfigError} naming file and key. */
export function compileRegisterAttrs(
  raw: Record<string, RawAttr>,
  ctx: RegisterContext,
): CompiledRegister[] {
  const prefix = ctx.prefix ?? "attrs";
  const keyOf = (base: string) => prefix ? `${prefix}.${base}` : base;
  const fail = (key: string, message: string): never => {
    throw new ConfigError(message, ctx.file, key);
  };
  const out: CompiledRegister[] = [];
  const seen = new Set<string>();
  for (const [base, a] of Object.entries(raw)) {
    const key = keyOf(base);
    if (!/^[a-z][a-z0-9_]*$/.test(base)) fail(key, "attribute names are snake_case (a-z, 0-9, _)");
    for (const k of MESSAGE_KEYS) {
      if (a[k] !== undefined) {
        fail(
          `${key}.${k}`,
          `"${k}" is for message-based instruments; a register takes table/address (or ` +
            `register), type, word_order, scale, offset, map, write`,
        );
      }
    }
    const where = locate(a, key, fail);
    const type = dataType(a, where.table, key, fail);
    if (type === "bit" && a.bit === undefined) {
      fail(`${key}.bit`, "a bit attribute needs bit = 0…15");
    }
    if (type !== "bit" && a.bit !== undefined) fail(`${key}.bit`, 'bit goes with type = "bit"');
    if (type !== "string" && a.length !== undefined) {
      fail(`${key}.length`, 'length (registers) goes with type = "string"');
    }
    if ((a.scale === 0)) fail(`${key}.scale`, "scale 0 would make every value the offset");
    const write = writeCode(a, where.table, type, key, fail);
    const spec: RegisterAttr = {
      table: where.table,
      address: where.address,
      type,
      order: a.word_order ?? ctx.wordOrder ?? "ABCD",
      scale: a.scale ?? 1,
      offset: a.offset ?? 0,
      ...(a.bit !== undefined ? { bit: a.bit } : {}),
      ...(type === "string" ? { length: a.length ?? 1 } : {}),
      ...(a.map ? { map: a.map } : {}),
      ...(write ? { write } : {}),
    };
    if (a.sim?.approach !== undefined) {
      let tauMs = 10_000;
      if (a.sim.tau !== undefined) {
        try {
          tauMs = parseDuration(a.sim.tau, "s", "");
        } catch (err) {
          fail(`${key}.sim.tau`, (err as Error).message);
        }
      }
      spec.approach = { base: a.sim.approach, tauMs };
    }
    const attrType = attrTypeOf(spec, a, key, fail);
    const options = attrType === "enum"
      ? [...new Set(Object.values(a.map!).map(String))]
      : undefined;
    const group = a.channels;
    const ids = group === undefined ? [undefined] : ctx.channels?.[group];
    if (!ids) {
      return fail(
        `${key}.channels`,
        `no channel group "${group}"; declare [channels.${group}] ids = [...]`,
      );
    }
    if (group !== undefined && a.stride === undefined) {
      fail(
        `${key}.stride`,
        "a register attribute with channels needs stride (registers between channels)",
      );
    }
    ids.forEach((id, i) => {
      const name = channelAttrName(base, group, id, group && ctx.channelNames?.[group]);
      claimAttrName(name, key, seen, fail);
      const address = spec.address + i * (a.stride ?? 0);
      const last = address + widthOf(spec) - 1;
      if (last > 0xffff) {
        fail(
          `${key}.${a.register !== undefined ? "register" : "address"}`,
          `${name} would span ${describeAddress(spec.table, address)}…${last}, past the last ` +
            `address 65535`,
        );
      }
      const { min, max } = channelLimits(a, id, key, fail);
      const attr: Attr = {
        name,
        type: attrType,
        rw: write !== undefined,
        status: a.status ?? false,
      };
      if (a.units !== undefined) attr.units = a.units;
      if (min !== undefined) attr.min = min;
      if (max !== undefined) attr.max = max;
      if (options) attr.options = a.options ?? options;
      if (a.precision !== undefined) attr.precision = a.precision;
      attr.description = a.description ??
        `${describeAddress(spec.table, address)}${widthOf(spec) > 1 ? `…${last}` : ""}, ${type}` +
          (type !== "bit" && widthOf(spec) > 1 && type !== "string" ? ` ${spec.order}` : "") +
          (type === "bit" ? ` ${spec.bit}` : "");
      out.push({
        attr,
        base,
        vars: group === undefined ? {} : { [group]: id! },
        parse: {
          kind: attrType === "boolean"
            ? "boolean"
            : attrType === "enum"
            ? "enum"
            : attrType === "string"
            ? "string"
            : attrType === "integer"
            ? "integer"
            : "number",
        },
        sim: {
          value: a.sim?.value as Value | undefined,
          noise: a.sim?.noise,
          follows: a.sim?.follows,
        },
        register: { ...spec, address },
      });
    });
  }
  for (const ia of out) {
    const ap = ia.register?.approach;
    if (ap && !out.some((x) => x.base === ap.base)) {
      fail(`${keyOf(ia.base)}.sim.approach`, `no attribute "${ap.base}"`);
    }
    const f = ia.sim.follows;
    if (f !== undefined && !out.some((x) => x.base === f)) {
      fail(`${keyOf(ia.base)}.sim.follows`, `no attribute "${f}"`);
    }
  }
  checkOverlaps(out, keyOf, fail);
  return out;
}

function locate(
  a: RawAttr,
  key: string,
  fail: (key: string, message: string) => never,
): { table: Table; address: number } {
  if (a.register !== undefined) {
    if (a.address !== undefined || a.table !== undefined) {
      fail(
        key,
        "give either register (the manual's 40001-style number) or table and address (0-based), not both",
      );
    }
    const r = parseRegisterNumber(a.register);
    if (!r) {
      return fail(
        `${key}.register`,
        `${a.register} is not a manual register number: 00001…09999 coils, 10001… discrete ` +
          `inputs, 30001… input registers, 40001… holding registers (or 6 digits, 400001…465536)`,
      );
    }
    return r;
  }
  if (a.address === undefined || a.table === undefined) {
    return fail(
      key,
      'where is it? give table = "holding" (coil, discrete, input, holding) and address = N ' +
        "(0-based, as on the wire), or register = 40001 (the manual's 1-based number)",
    );
  }
  return { table: a.table, address: a.address };
}

function dataType(
  a: RawAttr,
  table: Table,
  key: string,
  fail: (key: string, message: string) => never,
): DataType {
  const t = a.type;
  if (isBitTable(table)) {
    if (t !== undefined && t !== "bool" && t !== "boolean") {
      fail(`${key}.type`, `a ${table} holds one bit: type is "bool" (or leave it out)`);
    }
    return "bool";
  }
  switch (t) {
    case undefined:
      return "uint16";
    case "boolean":
    case "bool":
      return "bool";
    case "number":
    case "integer":
    case "enum":
    case "number[]":
      return fail(
        `${key}.type`,
        `"${t}" is an attribute type; a register's type is one of int16, uint16, int32, uint32, ` +
          "float32, float64, string, bit, bool",
      );
    default:
      return t as DataType;
  }
}

function writeCode(
  a: RawAttr,
  table: Table,
  type: DataType,
  key: string,
  fail: (key: string, message: string) => never,
): 5 | 6 | 15 | 16 | undefined {
  const w = a.write;
  if (w === undefined || w === false) return undefined;
  if (table === "input" || table === "discrete") {
    return fail(
      `${key}.write`,
      `${table === "input" ? "input registers" : "discrete inputs"} are read-only`,
    );
  }
  const width = widthOf({ type, length: a.length });
  if (table === "coil") {
    if (w === true) return 5;
    if (w !== 5 && w !== 15) fail(`${key}.write`, "a coil is written with function 5 or 15");
    return w as 5 | 15;
  }
  if (w === true) return width === 1 ? 6 : 16;
  if (w === 5 || w === 15) fail(`${key}.write`, "a register is written with function 6 or 16");
  if (w === 6 && width > 1) {
    fail(`${key}.write`, `function 6 writes one register; ${type} needs ${width}: use 16`);
  }
  return w as 6 | 16;
}

function attrTypeOf(
  spec: RegisterSpec,
  a: RawAttr,
  key: string,
  fail: (key: string, message: string) => never,
): AttrType {
  if (spec.map) {
    const values = Object.values(spec.map);
    for (const k of Object.keys(spec.map)) {
      if (!/^-?\d+$/.test(k)) {
        fail(`${key}.map`, `keys are raw register values (integers), not "${k}"`);
      }
    }
    if (spec.type === "float32" || spec.type === "float64" || spec.type === "string") {
      fail(`${key}.map`, `a map needs an integer register, not ${spec.type}`);
    }
    if (values.every((v) => typeof v === "boolean")) return "boolean";
    return "enum";
  }
  if (a.options) fail(`${key}.options`, "options come from the map of raw values");
  switch (spec.type) {
    case "bool":
    case "bit":
      return "boolean";
    case "string":
      return "string";
    case "float32":
    case "float64":
      return "number";
  }
  const whole = Number.isInteger(spec.scale) && Number.isInteger(spec.offset);
  return whole ? "integer" : "number";
}

/** "holding register 4096…4097", or one address alone. */
function span(r: RegisterSpec): string {
  const w = widthOf(r);
  return describeAddress(r.table, r.address) + (w > 1 ? `…${r.address + w - 1}` : "");
}

/** Two attributes on one register (bits of one register excepted) name both keys. */
function checkOverlaps(
  attrs: CompiledRegister[],
  keyOf: (base: string) => string,
  fail: (key: string, message: string) => never,
): void {
  const sorted = attrs.filter((a) => a.register).sort((x, y) =>
    x.register!.table === y.register!.table
      ? x.register!.address - y.register!.address
      : x.register!.table < y.register!.table
      ? -1
      : 1
  );
  for (let i = 1; i < sorted.length; i++) {
    const b = sorted[i]!;
    const rb = b.register!;
    for (let j = i - 1; j >= 0; j--) {
      const a = sorted[j]!;
      const ra = a.register!;
      if (ra.table !== rb.table) break;
      const aEnd = ra.address + widthOf(ra);
      if (aEnd <= rb.address) continue;
      if (
        ra.type === "bit" && rb.type === "bit" && ra.address === rb.address && ra.bit !== rb.bit
      ) {
        continue;
      }
      fail(
        keyOf(b.base),
        `${b.attr.name} (${span(rb)}) overlaps ${a.attr.name} (${keyOf(a.base)}: ${span(ra)}); ` +
          `each register belongs to one attribute (bits of one register excepted)`,
      );
    }
  }
}

/** The keys a register attribute takes and what each holds (`checkRegisterTables`). */
const REGISTER_ATTR_KEYS: Record<string, (v: unknown) => string | undefined> = {
  table: oneOf(TABLES),
  address: whole(0, 65535),
  register: whole(1, 465536),
  type: oneOf([...DATA_TYPES, "boolean"]),
  length: whole(1, 125),
  bit: whole(0, 15),
  word_order: oneOf(WORD_ORDERS),
  scale: (v) => typeof v === "number" && Number.isFinite(v) ? undefined : "expected a number",
  offset: (v) => typeof v === "number" && Number.isFinite(v) ? undefined : "expected a number",
  min: (v) => typeof v === "number" ? undefined : "expected a number",
  max: (v) => typeof v === "number" ? undefined : "expected a number",
  precision: whole(0, 17),
  write: (v) =>
    typeof v === "boolean" || [5, 6, 15, 16].includes(v as number)
      ? undefined
      : "expected true, false or a function code 5, 6, 15 or 16",
  map: (v) =>
    isTable(v) && Object.values(v).every((x) => ["string", "number", "boolean"].includes(typeof x))
      ? undefined
      : 'expected a table of raw values, e.g. { "0" = "off", "1" = "on" }',
  units: (v) => typeof v === "string" ? undefined : "expected text",
  description: (v) => typeof v === "string" ? undefined : "expected text",
  status: (v) => typeof v === "boolean" ? undefined : "expected true or false",
  sim: (v) => isTable(v) ? undefined : "expected a table (value, noise, approach, tau)",
};

function oneOf(options: readonly string[]): (v: unknown) => string | undefined {
  return (v) =>
    typeof v === "string" && options.includes(v)
      ? undefined
      : `expected one of ${options.join(", ")}`;
}

function whole(min: number, max: number): (v: unknown) => string | undefined {
  return (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
      ? undefined
      : `expected a whole number from ${min} to ${max}`;
}

/**
 * Checks a generic device's `registers` table (from labwire.toml, not yet typed) and compiles
 * it: the first mistake as a key path below `registers` and a message, or undefined when it is a
 * usable register map. No zod: this runs wherever device options are checked.
 *
 * @example
 * ```ts
 * import { checkRegisterTables } from "./register_map.ts";
 * checkRegisterTables({ pv: { register: 40001, type: "flot32" } });
 * // { path: ["pv", "type"], message: "expected one of bool, bit, …" }
 * ```
 */
export function checkRegisterTables(
  v: unknown,
): { path: string[]; message: string } | undefined {
  if (!isTable(v)) return { path: [], message: "expected a table of registers" };
  for (const [name, entry] of Object.entries(v)) {
    if (!isTable(entry)) {
      return {
        path: [name],
        message: 'expected a table, e.g. { register = 40001, type = "int16" }',
      };
    }
    for (const [k, x] of Object.entries(entry)) {
      const check = REGISTER_ATTR_KEYS[k];
      if (!check) {
        return {
          path: [name, k],
          message: `unknown key; a register takes ${Object.keys(REGISTER_ATTR_KEYS).join(", ")}`,
        };
      }
      const problem = check(x);
      if (problem) return { path: [name, k], message: problem };
    }
  }
  try {
    compileRegisterAttrs(v as Record<string, RawAttr>, { file: "", prefix: "" });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { path: (err.key ?? "").split(".").filter((p) => p !== ""), message: err.message };
  }
  return undefined;
}
