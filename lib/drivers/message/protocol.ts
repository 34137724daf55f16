/**
 * The `message` family's pure codec (no sockets, no timers): parsing answers by an instrument
 * definition's parse rules, formatting values for the wire (printf), and definite-length blocks.
 * SCPI's command syntax is in `scpi.ts`; templates, layouts and parse rules are the definition's
 * (`lib/instruments/template.ts`).
 *
 * @module
 */
import type { Value } from "../../device/attr.ts";
import type { Layout, ParseRule } from "../../instruments/template.ts";

/** An answer that a parse rule cannot turn into a value. */
export class ParseError extends Error {
  /** Creates the error; `answer` is the text received. */
  constructor(message: string, readonly answer: string) {
    super(message);
    this.name = "ParseError";
  }
}

/**
 * Formats a number like C's printf for one conversion: `%d`, `%f`, `%e`/`%E`, `%g`, `%s`, with
 * flags `+`, `0`, `-`, space, a width and a precision. Text around the conversion is kept.
 *
 * @example
 * ```ts
 * import { printf } from "./protocol.ts";
 * printf("%+.8E", 1.5); // "+1.50000000E+00"
 * printf("%+07.2f", 14.742); // "+014.74"
 * ```
 */
export function printf(format: string, value: number | string): string {
  let spec = SPECS.get(format);
  if (spec === undefined) {
    spec = compileSpec(format);
    if (SPECS.size >= 256) SPECS.clear();
    SPECS.set(format, spec);
  }
  if (spec === null) return format;
  const { conv, width, prec, plus, space, left, zero } = spec;
  let body: string;
  let negative = false;
  if (conv === "s") body = String(value);
  else {
    const x = typeof value === "number" ? value : Number(value);
    negative = x < 0 || Object.is(x, -0);
    const a = Math.abs(x);
    switch (conv) {
      case "d":
        body = String(Math.round(a));
        break;
      case "x":
        body = Math.round(a).toString(16);
        break;
      case "f":
        body = a.toFixed(prec ?? 6);
        break;
      case "e":
      case "E": {
        if (!Number.isFinite(a)) {
          // C's printf: inf and nan (INF and NAN for %E).
          body = Number.isNaN(a) ? "nan" : "inf";
          if (conv === "E") body = body.toUpperCase();
          break;
        }
        const text = a.toExponential(prec ?? 6);
        const at = text.indexOf("e");
        // toExponential writes "e+0", "e-12": C's exponent has a sign and at least two digits.
        const digits = text.length - at - 2;
        body = text.slice(0, at) + (conv === "E" ? "E" : "e") + text[at + 1] +
          (digits < 2 ? "0" : "") + text.slice(at + 2);
        break;
      }
      default: {
        const p = prec === undefined ? 6 : Math.max(prec, 1);
        body = String(Number(a.toPrecision(p)));
        if (conv === "G") body = body.toUpperCase();
      }
    }
  }
  const sign = conv === "s" ? "" : negative ? "-" : plus ? "+" : space ? " " : "";
  let out = sign + body;
  if (out.length < width) {
    if (left) out = out.padEnd(width);
    else if (zero && conv !== "s") out = sign + body.padStart(width - sign.length, "0");
    else out = out.padStart(width);
  }
  return spec.before === "" && spec.after === "" ? out : spec.before + out + spec.after;
}

/** A printf format's one conversion, parsed once per format (formats come from definitions). */
interface PrintfSpec {
  before: string;
  after: string;
  conv: string;
  width: number;
  prec: number | undefined;
  plus: boolean;
  space: boolean;
  left: boolean;
  zero: boolean;
}

const SPECS = new Map<string, PrintfSpec | null>();

/** Parses `format`'s conversion; null when it has none (the format is printed as it is). */
function compileSpec(format: string): PrintfSpec | null {
  const m = /%([-+ 0]*)(\d+)?(?:\.(\d+))?([dfeEgGsx])/.exec(format);
  if (!m) return null;
  const [whole, flags = "", widthText, precText, conv] = m;
  return {
    before: format.slice(0, m.index),
    after: format.slice(m.index + whole.length),
    conv: conv!,
    width: widthText ? Number(widthText) : 0,
    prec: precText === undefined ? undefined : Number(precText),
    plus: flags.includes("+"),
    space: flags.includes(" "),
    left: flags.includes("-"),
    zero: flags.includes("0"),
  };
}

/**
 * Formats a value for a `set` template's `{value}`: an enum's position in `options` when the
 * format is `index`, through `map` (inverted) when the value is one of its targets, else by the
 * printf `format`, else plainly (booleans as 1/0).
 *
 * @example
 * ```ts
 * import { formatValue } from "./protocol.ts";
 * formatValue(true, { map: { ON: true, OFF: false } }); // "ON"
 * formatValue(2.5, { format: "%.3f" }); // "2.500"
 * ```
 */
export function formatValue(
  value: Value,
  rule: { map?: Record<string, Value>; format?: string; scale?: number; options?: string[] },
): string {
  if (rule.format === "index" && typeof value === "string" && rule.options) {
    const i = rule.options.indexOf(value);
    if (i >= 0) return String(i);
  }
  if (rule.map) {
    for (const [wire, v] of Object.entries(rule.map)) if (v === value) return wire;
  }
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number") {
    const x = rule.scale ? value / rule.scale : value;
    return rule.format ? printf(rule.format, x) : String(x);
  }
  if (Array.isArray(value)) {
    return value.map((x) => rule.format ? printf(rule.format, x) : String(x)).join(",");
  }
  if (value === null) return "";
  return rule.format ? printf(rule.format, value) : value;
}

/** Splits text by a separator: " " means runs of whitespace; other separators are exact. */
export function splitTokens(text: string, split: string): string[] {
  const t = text.trim();
  if (t === "") return [];
  if (split === " ") return t.split(/\s+/);
  return t.split(split).map((s) => s.trim());
}

/** The fields of a layout reply: `status` holds the status words found (joined by spaces). */
export function layoutFields(text: string, layout: Layout): Record<string, string> {
  let tokens = splitTokens(text, layout.split).slice(layout.skip);
  const status = tokens.filter((t) => layout.statusWords.includes(t));
  tokens = tokens.filter((t) => !layout.statusWords.includes(t));
  let textValue: string | undefined;
  if (layout.textField) {
    const i = tokens.findIndex((t) => !Number.isFinite(Number(t)));
    if (i >= 0) {
      textValue = tokens[i];
      status.push(...tokens.slice(i + 1));
      tokens = tokens.slice(0, i);
    }
  }
  const names = layout.byCount?.[tokens.length] ?? layout.fields;
  if (!names) {
    const counts = Object.keys(layout.byCount ?? {}).join(", ");
    throw new ParseError(
      `expected ${counts} fields for layout "${layout.name}", got ${tokens.length}`,
      text,
    );
  }
  if (tokens.length < names.length) {
    throw new ParseError(
      `expected ${names.length} fields for layout "${layout.name}", got ${tokens.length}`,
      text,
    );
  }
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = tokens[i]!));
  if (layout.textField && textValue !== undefined) out[layout.textField] = textValue;
  out.status = status.join(" ");
  return out;
}

const BOOL_TEXT: Record<string, boolean> = {
  "1": true,
  "0": false,
  ON: true,
  OFF: false,
  TRUE: true,
  FALSE: false,
};

/** Strips one pair of surrounding double or single quotes. */
export function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0]) return t.slice(1, -1);
  return t;
}

/**
 * Turns an answer into a value by a parse rule: first the regex capture, the token or the
 * layout field, then the kind's conversion. Throws {@linkcode ParseError} saying what was
 * expected.
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./protocol.ts";
 * parseAnswer("+1.23450000E+00", { kind: "number" }); // 1.2345
 * parseAnswer("CH1,5.000,1.0000", { kind: "number", token: 2 }); // 1
 * ```
 */
export function parseAnswer(answer: string | Uint8Array, rule: ParseRule): Value {
  if (rule.kind === "block") {
    const bytes = typeof answer === "string" ? new TextEncoder().encode(answer) : answer;
    return decodeBlockValues(bytes, rule.block ?? "ascii");
  }
  let text = typeof answer === "string" ? answer : new TextDecoder().decode(answer);
  const original = text;
  if (rule.regex) {
    const m = rule.regex.exec(text);
    if (!m) throw new ParseError(`answer does not match /${rule.regex.source}/`, original);
    text = m[1] ?? m[0];
  }
  if (rule.layout) {
    const fields = layoutFields(text, rule.layout);
    const name = String(rule.token);
    // Own fields only: a token named "constructor" is a missing field, not Object's.
    if (!Object.hasOwn(fields, name)) {
      throw new ParseError(`no field "${name}" in layout "${rule.layout.name}"`, original);
    }
    text = fields[name]!;
  } else if (rule.token !== undefined) {
    const tokens = splitTokens(text, rule.split ?? ",");
    const n = Number(rule.token);
    const i = n < 0 ? tokens.length + n : n;
    if (i < 0 || i >= tokens.length) {
      throw new ParseError(
        `expected at least ${(n < 0 ? -n : n + 1)} fields, got ${tokens.length}`,
        original,
      );
    }
    text = tokens[i]!;
  }
  text = text.trim();
  if (rule.mask !== undefined) {
    const n = Number(text);
    if (text === "" || !Number.isInteger(n)) {
      throw new ParseError(`expected an integer, got "${text}"`, original);
    }
    text = String(n & rule.mask);
  }
  if (rule.map && rule.kind !== "flags") {
    const key = Object.keys(rule.map).find((k) =>
      k === text || k.toUpperCase() === unquote(text).toUpperCase()
    );
    if (key !== undefined) return rule.map[key]!;
    if (rule.kind === "enum") {
      throw new ParseError(
        `unexpected answer "${text}" (known: ${Object.keys(rule.map).join(", ")})`,
        original,
      );
    }
  }
  switch (rule.kind) {
    case "number":
    case "integer": {
      const n = Number(text);
      if (text === "" || !Number.isFinite(n)) {
        throw new ParseError(`expected a number, got "${text}"`, original);
      }
      if (rule.kind === "integer" && !Number.isInteger(n)) {
        throw new ParseError(`expected an integer, got "${text}"`, original);
      }
      return rule.scale ? n * rule.scale : n;
    }
    case "boolean": {
      const b = BOOL_TEXT[unquote(text).toUpperCase()];
      if (b === undefined) throw new ParseError(`expected 1/0 or ON/OFF, got "${text}"`, original);
      return b;
    }
    case "string":
    case "enum":
      return unquote(text);
    case "flags": {
      const n = Number(text);
      if (text === "" || !Number.isInteger(n)) {
        throw new ParseError(`expected an integer, got "${text}"`, original);
      }
      const names = (rule.bits ?? []).filter(([bit]) => (n & bit) !== 0).map(([, name]) => name);
      return names.length ? names.join(", ") : "ok";
    }
    case "numbers": {
      const parts = splitTokens(text, rule.split ?? ",");
      return parts.map((p) => {
        const n = Number(p);
        if (!Number.isFinite(n)) throw new ParseError(`expected numbers, got "${p}"`, original);
        return rule.scale ? n * rule.scale : n;
      });
    }
  }
  throw new ParseError(`unknown parse rule`, original);
}

/**
 * Encodes a definite-length block `#<n><len><data>`.
 *
 * @example
 * ```ts
 * import { encodeBlock } from "./protocol.ts";
 * new TextDecoder().decode(encodeBlock(new TextEncoder().encode("hello"))); // "#15hello"
 * ```
 */
export function encodeBlock(data: Uint8Array): Uint8Array {
  const len = String(data.length);
  const head = new TextEncoder().encode(`#${len.length}${len}`);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/**
 * Decodes a definite-length block at the start of `bytes`: the data and how many bytes the
 * block took (header + data), or undefined while incomplete. Throws for a malformed header.
 */
export function decodeBlock(bytes: Uint8Array): { data: Uint8Array; size: number } | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[0] !== 0x23) {
    throw new ParseError("block data must start with #", latin1(bytes.subarray(0, 16)));
  }
  const n = bytes[1]! - 0x30;
  if (!(n >= 1 && n <= 9)) {
    throw new ParseError("block header: bad length digit", latin1(bytes.subarray(0, 16)));
  }
  if (bytes.length < 2 + n) return undefined;
  const digits = latin1(bytes.subarray(2, 2 + n));
  // Decimal digits only: Number() would also take " 12", "-1", "1e3" or "0x1f".
  const len = /^\d+$/.test(digits) ? Number(digits) : NaN;
  if (!Number.isInteger(len)) {
    throw new ParseError("block header: bad length", latin1(bytes.subarray(0, 16)));
  }
  if (bytes.length < 2 + n + len) return undefined;
  return { data: bytes.subarray(2 + n, 2 + n + len), size: 2 + n + len };
}

/** Decodes a block's numbers: ASCII comma-separated, or binary floats. */
export function decodeBlockValues(
  bytes: Uint8Array,
  encoding: NonNullable<ParseRule["block"]>,
): number[] {
  const b = decodeBlock(bytes);
  if (!b) throw new ParseError("incomplete block data", latin1(bytes.subarray(0, 32)));
  const data = b.data;
  if (encoding === "ascii") {
    return splitTokens(latin1(data), ",").map((p) => {
      const n = Number(p);
      if (!Number.isFinite(n)) {
        throw new ParseError(
          `expected numbers in the block, got "${p}"`,
          latin1(data.subarray(0, 32)),
        );
      }
      return n;
    });
  }
  return decodeBlockData(data, encoding.startsWith("f32") ? "f32" : "f64", encoding.endsWith("le"));
}

/** Element types of binary block data (`labwire query --binary --datatype`). */
export const DATATYPES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64"] as const;
/** One element type of binary block data. */
export type Datatype = typeof DATATYPES[number];

/**
 * Decodes a block's data (no header) as numbers of `type`, multi-byte types big-endian unless
 * `little`; a size that is not a whole number of them is a {@linkcode ParseError}.
 *
 * @example
 * ```ts
 * import { decodeBlockData } from "./protocol.ts";
 * decodeBlockData(new Uint8Array([0x3f, 0x80, 0, 0]), "f32", false); // [1]
 * ```
 */
export function decodeBlockData(data: Uint8Array, type: Datatype, little: boolean): number[] {
  const size = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 }[type];
  if (data.length % size !== 0) {
    throw new ParseError(
      `the block has ${data.length} bytes, not a whole number of ${type} values (${size} bytes)`,
      latin1(data.subarray(0, 32)),
    );
  }
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = new Array(data.length / size);
  for (let i = 0, off = 0; off < data.length; i++, off += size) {
    switch (type) {
      case "u8":
        out[i] = v.getUint8(off);
        break;
      case "i8":
        out[i] = v.getInt8(off);
        break;
      case "u16":
        out[i] = v.getUint16(off, little);
        break;
      case "i16":
        out[i] = v.getInt16(off, little);
        break;
      case "u32":
        out[i] = v.getUint32(off, little);
        break;
      case "i32":
        out[i] = v.getInt32(off, little);
        break;
      case "f32":
        out[i] = v.getFloat32(off, little);
        break;
      case "f64":
        out[i] = v.getFloat64(off, little);
        break;
    }
  }
  return out;
}

/** Encodes numbers as a block's data, the inverse of {@linkcode decodeBlockValues}. */
export function encodeBlockValues(
  values: number[],
  encoding: NonNullable<ParseRule["block"]>,
): Uint8Array {
  if (encoding === "ascii") {
    return encodeBlock(new TextEncoder().encode(values.map((v) => printf("%+.6E", v)).join(",")));
  }
  const size = encoding.startsWith("f32") ? 4 : 8;
  const little = encoding.endsWith("le");
  const data = new Uint8Array(values.length * size);
  const view = new DataView(data.buffer);
  values.forEach((v, i) =>
    size === 4 ? view.setFloat32(i * size, v, little) : view.setFloat64(i * size, v, little)
  );
  return encodeBlock(data);
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}
