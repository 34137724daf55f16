/**
 * The `message` family's pure codec (no sockets, no timers): rendering command templates,
 * SCPI short forms, parsing answers by an instrument definition's parse rules, formatting
 * values for the wire, definite-length blocks, and the SCPI parsing the simulator needs
 * (long/short mnemonics, case-insensitivity, `;` chaining, common commands).
 *
 * @module
 */
import type { Value } from "../../device/attr.ts";
import type { ParseKind } from "../../instruments/schema.ts";

/** A reply split into named fields (an instrument-level `[layouts.NAME]`). */
export interface Layout {
  /** Its name, for messages. */
  name: string;
  /** Separator: "," or " " (whitespace runs) or any text. */
  split: string;
  /** Leading tokens to drop (e.g. Alicat's unit letter). */
  skip: number;
  /** Field names by position, when the count never varies. */
  fields?: string[];
  /** Field names by token count (after `skip` and status words are removed). */
  byCount?: Record<number, string[]>;
  /** Words that are status flags wherever they appear (collected into the field `status`). */
  statusWords: string[];
  /**
   * The field holding the first non-numeric token; every token after it is a status word and
   * `byCount` counts only the numbers before it (Alicat's gas, then MOV, LCK, …).
   */
  textField?: string;
  /** The simulator's template for the whole reply: `{FIELD}` placeholders. */
  reply?: string;
}

/** How an answer's text becomes a value. */
export interface ParseRule {
  /** The final conversion. */
  kind: ParseKind;
  /** Applied first: the text of capture group 1 is kept. */
  regex?: RegExp;
  /** A token of the answer: an index (negative from the end), or a field name of `layout`. */
  token?: number | string;
  /** Bits kept of an integer answer before `map` (Alicat's gas register: 0x1FF). */
  mask?: number;
  /** Separator of `token` (default ","; " " means runs of whitespace). */
  split?: string;
  /** Named fields. */
  layout?: Layout;
  /** Wire text → value (enum options, booleans, numbers). */
  map?: Record<string, Value>;
  /** Bit value → flag name, for `flags`. */
  bits?: [number, string][];
  /** Encoding of `block` data. */
  block?: "ascii" | "f32le" | "f32be" | "f64le" | "f64be";
  /** Factor applied to parsed numbers. */
  scale?: number;
}

/** An answer that a parse rule cannot turn into a value. */
export class ParseError extends Error {
  /** Creates the error; `answer` is the text received. */
  constructor(message: string, readonly answer: string) {
    super(message);
    this.name = "ParseError";
  }
}

/**
 * Fills `{name}` placeholders; an unknown placeholder throws (definitions are checked so this
 * only happens for a bug).
 *
 * @example
 * ```ts
 * import { renderTemplate } from "./protocol.ts";
 * renderTemplate("VOLT {value},(@{output})", { value: "5", output: "1" }); // "VOLT 5,(@1)"
 * ```
 */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-z_][a-z0-9_]*)\}/gi, (_whole, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`template "${template}": no value for {${name}}`);
    return v;
  });
}

/** The placeholder names a template uses. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{([a-z_][a-z0-9_]*)\}/gi)].map((m) => m[1]!);
}

/**
 * The SCPI short form of a command: optional `[nodes]` dropped, each header node cut to its
 * upper-case letters (`MEASure:VOLTage:DC?` → `MEAS:VOLT:DC?`); parameters are left alone.
 *
 * @example
 * ```ts
 * import { shortForm } from "./protocol.ts";
 * shortForm("[SENSe:]VOLTage:DC:RANGe 10"); // "VOLT:DC:RANG 10"
 * ```
 */
export function shortForm(command: string): string {
  return command.split(";").map((unit) => {
    const m = /^(\s*)(\S+)(.*)$/s.exec(unit);
    if (!m) return unit;
    const header = m[2]!.replace(/\[[^\]]*\]/g, "").replace(/::+/g, ":");
    const short = header.split(":").map((node) => {
      if (node.startsWith("*") || !/[a-z]/.test(node)) return node;
      const q = node.endsWith("?") ? "?" : "";
      const body = q ? node.slice(0, -1) : node;
      const digits = /\d+$/.exec(body)?.[0] ?? "";
      return body.slice(0, body.length - digits.length).replace(/[a-z]/g, "") + digits + q;
    }).join(":");
    return m[1]! + short + m[3]!;
  }).join(";");
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
  const m = /%([-+ 0]*)(\d+)?(?:\.(\d+))?([dfeEgGsx])/.exec(format);
  if (!m) return format;
  const [whole, flags = "", widthText, precText, conv] = m;
  const width = widthText ? Number(widthText) : 0;
  const prec = precText === undefined ? undefined : Number(precText);
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
        const [mant, exp] = a.toExponential(prec ?? 6).split("e") as [string, string];
        const e = Number(exp);
        body = `${mant}${conv}${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
        break;
      }
      default: {
        const p = prec === undefined ? 6 : Math.max(prec, 1);
        body = String(Number(a.toPrecision(p)));
        if (conv === "G") body = body.toUpperCase();
      }
    }
  }
  const sign = conv === "s"
    ? ""
    : negative
    ? "-"
    : flags.includes("+")
    ? "+"
    : flags.includes(" ")
    ? " "
    : "";
  let out = sign + body;
  if (out.length < width) {
    if (flags.includes("-")) out = out.padEnd(width);
    else if (flags.includes("0") && conv !== "s") {
      out = sign + body.padStart(width - sign.length, "0");
    } else out = out.padStart(width);
  }
  return format.slice(0, m.index) + out + format.slice(m.index + whole.length);
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
  const size = encoding.startsWith("f32") ? 4 : 8;
  const little = encoding.endsWith("le");
  if (data.length % size !== 0) {
    throw new ParseError(`block of ${data.length} bytes is not a whole number of ${encoding}`, "");
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  for (let i = 0; i < data.length; i += size) {
    out.push(size === 4 ? view.getFloat32(i, little) : view.getFloat64(i, little));
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

// ---- SCPI parsing for the simulator ------------------------------------------------------

/**
 * Splits a program message into its units at `;` (outside quotes), and resolves each unit's
 * header against the previous one: a unit that starts neither with `:` nor `*` continues at the
 * previous header's level (`SOUR:VOLT 1;CURR 2` → `SOUR:CURR 2`).
 *
 * @example
 * ```ts
 * import { splitProgramMessage } from "./protocol.ts";
 * splitProgramMessage("SOUR:VOLT 1;CURR 2;*OPC?"); // ["SOUR:VOLT 1", "SOUR:CURR 2", "*OPC?"]
 * ```
 */
export function splitProgramMessage(message: string): string[] {
  const units: string[] = [];
  let cur = "";
  let quote = "";
  for (const ch of message) {
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === ";") {
      units.push(cur);
      cur = "";
      continue;
    }
    cur += ch;
  }
  units.push(cur);
  const out: string[] = [];
  let path: string[] = [];
  for (const raw of units) {
    const unit = raw.trim();
    if (unit === "") continue;
    const m = /^(\S+)(.*)$/s.exec(unit)!;
    let header = m[1]!;
    if (header.startsWith("*")) {
      out.push(unit);
      continue;
    }
    if (header.startsWith(":")) header = header.slice(1);
    else if (path.length > 0) header = [...path, header].join(":");
    const nodes = header.split(":");
    path = nodes.slice(0, -1);
    out.push(header + m[2]!);
  }
  return out;
}

/**
 * Compiles a command template (channel placeholders already filled) into a matcher for
 * incoming commands. For SCPI the header accepts long and short forms, optional `[nodes]` and
 * any case; parameters compare case-insensitively with flexible spaces. `{value}` captures.
 *
 * @example
 * ```ts
 * import { commandMatcher } from "./protocol.ts";
 * const m = commandMatcher("[SENSe:]VOLTage:DC:RANGe {value}", true);
 * m.exec("volt:dc:range 10")?.[1]; // "10"
 * ```
 */
export function commandMatcher(template: string, scpi: boolean): RegExp {
  const t = template.trim();
  let header = t;
  let params = "";
  if (scpi) {
    const m = /^(\S+)(?:\s+(.*))?$/s.exec(t);
    header = m?.[1] ?? t;
    params = m?.[2] ?? "";
  }
  let re = "^";
  if (scpi && !header.startsWith("*")) {
    re += ":?";
    const parts = header.replace(/^:/, "").split(/(\[[^\]]*\])/).filter((p) => p !== "");
    for (const part of parts) {
      if (part.startsWith("[")) {
        const inner = part.slice(1, -1);
        re += `(?:${nodesPattern(inner)})?`;
      } else re += nodesPattern(part);
    }
    if (params !== "") re += "\\s+" + paramsPattern(params);
  } else re += paramsPattern(header);
  return new RegExp(re + "\\s*$", "is");
}

function nodesPattern(text: string): string {
  return text.split(/(:)/).map((node) => {
    if (node === ":" || node === "") return node;
    if (node.startsWith("{")) return paramsPattern(node);
    const q = node.endsWith("?") ? "\\?" : "";
    const body = q ? node.slice(0, -1) : node;
    if (!/[a-z]/.test(body)) return escapeRe(body) + q;
    const digits = /\d+$/.exec(body)?.[0] ?? "";
    const word = body.slice(0, body.length - digits.length);
    const short = word.replace(/[a-z]/g, "");
    return `(?:${escapeRe(short)}|${escapeRe(word)})${escapeRe(digits)}${q}`;
  }).join("");
}

function paramsPattern(text: string): string {
  return text.split(/(\{[a-z_][a-z0-9_]*\}|,|\s+)/i).map((part) => {
    if (part === "") return "";
    if (part === ",") return "\\s*,\\s*";
    if (/^\s+$/.test(part)) return "\\s+";
    if (/^\{value\}$/i.test(part)) return "(.+?)";
    if (/^\{[a-z_][a-z0-9_]*\}$/i.test(part)) return "(?:.+?)";
    return escapeRe(part);
  }).join("");
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** SCPI error codes and messages the simulator reports (IEEE 488.2 / SCPI 1999). */
export const SCPI_ERRORS = {
  none: '+0,"No error"',
  undefinedHeader: '-113,"Undefined header"',
  dataOutOfRange: '-222,"Data out of range"',
  illegalValue: '-224,"Illegal parameter value"',
  dataType: '-104,"Data type error"',
  systemError: '-310,"System error"',
  queueOverflow: '-350,"Queue overflow"',
  queryInterrupted: '-410,"Query INTERRUPTED"',
} as const;

/** ESR bits (IEEE 488.2). */
export const ESR = {
  opc: 1,
  queryError: 4,
  deviceError: 8,
  executionError: 16,
  commandError: 32,
  powerOn: 128,
} as const;
