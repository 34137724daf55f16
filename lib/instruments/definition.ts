/**
 * A loaded instrument definition: channels expanded into attributes with their Attr fields,
 * templates with channel placeholders filled, parse rules compiled. Built by
 * {@linkcode compileDefinition} from a validated {@linkcode RawDefinition}; every mistake a
 * schema cannot see (an unknown placeholder, a parse rule without its map, a bad regex) is a
 * {@linkcode ConfigError} naming the file and the key.
 *
 * @module
 */
import type { Attr, AttrType, Value } from "../device/attr.ts";
import { ConfigError, NotFound } from "../device/errors.ts";
import { parseDuration } from "../config/duration.ts";
import { type Layout, type ParseRule, placeholders } from "./template.ts";
import { type ParseKind, type Protocol, type RawDefinition, REGISTER_TYPES } from "./schema.ts";
import { compileRegisterAttrs, type RegisterAttr } from "./register_map.ts";
import type { WordOrder } from "./registers.ts";
import { channelAttrName, channelLimits, claimAttrName } from "./channels.ts";
import { compileParseRule } from "./parse_rule.ts";

/** Line and framing defaults of an instrument. */
export interface TransportDefaults {
  /** Default TCP port. */
  port?: number;
  /** Serial settings. */
  baud: number;
  /** Data bits. */
  bits: 5 | 6 | 7 | 8;
  /** Parity. */
  parity: "none" | "even" | "odd" | "mark" | "space";
  /** Stop bits. */
  stop: 1 | 2;
  /** Flow control. */
  flow: "none" | "rtscts" | "xonxoff";
  /** What ends the instrument's answers. */
  readTermination: string;
  /** What the host appends to commands. */
  writeTermination: string;
  /** Text encoding of commands and answers. */
  encoding: "ascii" | "latin1" | "utf-8";
  /** Per-call timeout, ms. */
  timeoutMs: number;
  /** Minimum delay between commands, ms. */
  delayMs: number;
  /**
   * Queries sent ahead of their answers over TCP (1: one at a time, the default). Only for an
   * instrument that reads its input buffer in order and answers every query in order.
   */
  window: number;
  /** Default unit letter on a shared line (Alicat). */
  unit?: string;
}

/** One attribute of an instrument: its Attr and how it goes over the wire. */
export interface InstrumentAttr {
  /** The labwire attribute (name after channel expansion). */
  attr: Attr;
  /** The name before channel expansion (`voltage` for `ch1_voltage`). */
  base: string;
  /** Channel placeholder values (`{ output: "1" }`), empty without channels. */
  vars: Record<string, string>;
  /** Query template (channels filled; `{unit}` remains). */
  get?: string;
  /** Setting template (channels filled; `{value}` and `{unit}` remain). */
  set?: string;
  /** How the answer becomes a value. */
  parse: ParseRule;
  /** printf-like format of written values. */
  format?: string;
  /** The only values a write may set (numbers), when restricted. */
  values?: number[];
  /** Wait for completion (`*OPC?`) after a set. */
  wait: boolean;
  /** The instrument answers a set with a line (read and checked, then dropped). */
  reply: boolean;
  /** Simulator settings. */
  sim: { value?: Value; noise?: number; follows?: string; format?: string; reply?: string };
  /** Modbus: where the value lives and how it is encoded (register attributes only). */
  register?: RegisterAttr;
}

/** Modbus settings of a definition (`[modbus]`). */
export interface ModbusDefaults {
  /** Default unit id. */
  unit: number;
  /** Default byte order of multi-register values. */
  wordOrder: WordOrder;
  /** Largest register read per request. */
  maxRead: number;
  /** Unused registers a coalesced read may span. */
  maxGap: number;
}

/** A command without a value (tare, zero, reset, trigger). */
export interface InstrumentAction {
  /** Name after channel expansion. */
  name: string;
  /** Command template (channels filled). */
  command: string;
  /** What it does. */
  description?: string;
  /** Wait for completion after it. */
  wait: boolean;
  /** The instrument answers it with a line. */
  reply: boolean;
}

/** A loaded, expanded definition. */
export interface Instrument {
  /** Its name, e.g. `keysight-34461a`. */
  name: string;
  /** Where it came from: `built-in` or a file path. */
  source: string;
  /** Maker. */
  manufacturer?: string;
  /** Model. */
  model?: string;
  /** One line about it. */
  description?: string;
  /** Dialect. */
  protocol: Protocol;
  /** Line defaults. */
  transport: TransportDefaults;
  /** Identification check. */
  identify?: { query: string; match?: RegExp; onMismatch: "warn" | "refuse" };
  /** Commands sent once after connecting. */
  init: string[];
  /** Error checking: a query after writes, or a suffix on every command. */
  errors?: { query?: string; ok: RegExp; suffix?: string; mask: number };
  /** Completion query for slow settings. */
  completion: { query: string; timeoutMs: number };
  /** The simulator's `*IDN?` answer. */
  simIdn: string;
  /** Named reply layouts. */
  layouts: Record<string, Layout>;
  /** Attributes in declaration order (channels expanded). */
  attrs: InstrumentAttr[];
  /** Actions (channels expanded). */
  actions: InstrumentAction[];
  /** Channel groups, for `instruments show`. */
  channels: Record<string, string[]>;
  /** Modbus settings (protocol modbus only). */
  modbus?: ModbusDefaults;
}

const TYPE_OF: Record<ParseKind, AttrType> = {
  number: "number",
  integer: "integer",
  boolean: "boolean",
  string: "string",
  enum: "enum",
  flags: "string",
  numbers: "number[]",
  block: "number[]",
};

const DEFAULT_TERMINATION: Record<Protocol, [string, string]> = {
  scpi: ["\n", "\n"],
  ascii: ["\n", "\n"],
  alicat: ["\r", "\r"],
  pfeiffer: ["\r\n", "\r\n"],
  modbus: ["", ""],
};

/** Attribute keys only register (Modbus) attributes take. */
const REGISTER_KEYS = [
  "table",
  "address",
  "register",
  "length",
  "bit",
  "word_order",
  "offset",
  "stride",
  "write",
] as const;

/** Placeholders every template may use besides its channels. */
const RUNTIME_VARS = ["unit"];

/** Compiles a raw definition (already merged with what it extends) into an {@linkcode Instrument}. */
export function compileDefinition(
  raw: RawDefinition,
  file: string,
  fallbackName: string,
): Instrument {
  const fail = (key: string, message: string): never => {
    throw new ConfigError(message, file, key);
  };
  const name = raw.name ?? fallbackName;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    fail("name", `"${name}" is not a definition name (lowercase letters, digits and -)`);
  }
  const protocol = raw.protocol ?? "scpi";
  const t = raw.transport ?? {};
  const modbus = protocol === "modbus";
  if (raw.modbus && !modbus) fail("modbus", '[modbus] goes with protocol = "modbus"');
  if (t.unit !== undefined && modbus) {
    fail("transport.unit", "a Modbus unit id goes in [modbus] unit = N (1…247)");
  }
  const [readTerm, writeTerm] = DEFAULT_TERMINATION[protocol];
  const ms = (v: string | number | undefined, dflt: number, key: string): number => {
    if (v === undefined) return dflt;
    try {
      return parseDuration(v, "s", "");
    } catch (err) {
      return fail(key, (err as Error).message);
    }
  };
  const transport: TransportDefaults = {
    port: t.port ?? (modbus ? 502 : undefined),
    // Modbus RTU's default line is 19,200 baud 8E1 (the specification's).
    baud: t.baud ?? (modbus ? 19200 : 9600),
    bits: t.bits ?? 8,
    parity: t.parity ?? (modbus ? "even" : "none"),
    stop: t.stop ?? 1,
    flow: t.flow ?? "none",
    readTermination: t.read_termination ?? readTerm,
    writeTermination: t.write_termination ?? writeTerm,
    encoding: t.encoding ?? "ascii",
    timeoutMs: ms(t.timeout, 1000, "transport.timeout"),
    delayMs: ms(t.delay, 0, "transport.delay"),
    window: t.window ?? 1,
    unit: t.unit ?? (protocol === "alicat" ? "A" : undefined),
  };
  const regex = (text: string | undefined, key: string): RegExp | undefined => {
    if (text === undefined) return undefined;
    try {
      return new RegExp(text);
    } catch (err) {
      return fail(key, `not a valid regular expression: ${(err as Error).message}`);
    }
  };
  const scpiLike = protocol === "scpi";
  if (modbus) return compileModbus(raw, file, name, transport, fail);
  const identify = raw.identify || scpiLike
    ? {
      query: raw.identify?.query ?? "*IDN?",
      match: regex(raw.identify?.match, "identify.match"),
      onMismatch: raw.identify?.on_mismatch ?? "warn",
    }
    : undefined;
  const errors = raw.errors
    ? {
      query: raw.errors.query,
      ok: regex(raw.errors.ok ?? "^[+]?0(,|$)", "errors.ok")!,
      suffix: raw.errors.suffix,
      mask: raw.errors.mask ?? 0x3c,
    }
    : undefined;
  if (errors?.query && errors.suffix) {
    fail("errors", "give either query (asked after writes) or suffix (appended to every command)");
  }
  if (errors?.suffix && !errors.suffix.startsWith(";")) {
    fail("errors.suffix", `"${errors.suffix}" must start with ";" (e.g. ";*ESR?")`);
  }
  const channels: Record<string, string[]> = {};
  const channelNames: Record<string, string> = {};
  for (const [group, c] of Object.entries(raw.channels ?? {})) {
    if (!/^[a-z_][a-z0-9_]*$/.test(group)) {
      fail(`channels.${group}`, "channel group names are snake_case");
    }
    if (RUNTIME_VARS.includes(group) || group === "value" || group === "attr") {
      fail(`channels.${group}`, `"${group}" is reserved`);
    }
    channels[group] = c.ids.map(String);
    const pattern = c.name ?? `{attr}_{${group}}`;
    if (!pattern.includes("{attr}") || !pattern.includes(`{${group}}`)) {
      fail(
        `channels.${group}.name`,
        `must contain {attr} and {${group}}, e.g. "{attr}_{${group}}"`,
      );
    }
    channelNames[group] = pattern;
  }
  const layouts: Record<string, Layout> = {};
  for (const [ln, l] of Object.entries(raw.layouts ?? {})) {
    if (!l.fields && !l.by_count) fail(`layouts.${ln}`, "give fields or by_count");
    const byCount: Record<number, string[]> | undefined = l.by_count ? {} : undefined;
    for (const [k, v] of Object.entries(l.by_count ?? {})) {
      if (!/^\d+$/.test(k)) fail(`layouts.${ln}.by_count.${k}`, "keys are token counts");
      byCount![Number(k)] = v;
    }
    layouts[ln] = {
      name: ln,
      split: l.split ?? ",",
      skip: l.skip ?? 0,
      fields: l.fields,
      byCount,
      statusWords: l.status_words ?? [],
      textField: l.text_field,
      reply: l.reply,
    };
  }
  // An attribute's or action's name for one channel of its group (itself without one).
  const nameIn = (base: string, group: string | undefined, vars: Record<string, string>) =>
    channelAttrName(base, group, group && vars[group], group && channelNames[group]);
  const expand = (group: string | undefined, key: string): Record<string, string>[] => {
    if (group === undefined) return [{}];
    const ids = channels[group];
    if (!ids) {
      return fail(
        `${key}.channels`,
        `no channel group "${group}"; declare [channels.${group}] ids = [...]`,
      );
    }
    return ids.map((id) => ({ [group]: id }));
  };
  const attrs: InstrumentAttr[] = [];
  const seen = new Set<string>();
  for (const [base, a] of Object.entries(raw.attrs ?? {})) {
    const key = `attrs.${base}`;
    if (!/^[a-z][a-z0-9_]*$/.test(base)) fail(key, "attribute names are snake_case (a-z, 0-9, _)");
    for (const k of REGISTER_KEYS) {
      if (a[k] !== undefined) {
        fail(`${key}.${k}`, `"${k}" is a Modbus key: set protocol = "modbus"`);
      }
    }
    if ((REGISTER_TYPES as readonly string[]).includes(a.type ?? "")) {
      fail(`${key}.type`, `"${a.type}" is a Modbus register type: set protocol = "modbus"`);
    }
    const parse = compileParseRule(a, key, layouts, fail, regex);
    const type = TYPE_OF[parse.kind];
    if (a.type && a.type !== type && !(a.type === "number" && type === "integer")) {
      fail(`${key}.type`, `type "${a.type}" does not fit parse "${parse.kind}" (it gives ${type})`);
    }
    if (!a.get && !a.set) fail(key, "give get (a query), set (a setting template), or both");
    if (a.status && !a.get) fail(`${key}.status`, "a status attribute needs get");
    if (a.set && !a.set.includes("{value}")) fail(`${key}.set`, "the template needs {value}");
    const allowed = [...RUNTIME_VARS, ...(a.channels ? [a.channels] : [])];
    for (const [field, tpl] of [["get", a.get], ["set", a.set]] as const) {
      for (const p of placeholders(tpl ?? "")) {
        if (p !== "value" && !allowed.includes(p)) {
          fail(
            `${key}.${field}`,
            `unknown placeholder {${p}}; known: ${
              [...allowed, "value"].map((x) => `{${x}}`).join(", ")
            }`,
          );
        }
        if (p === "value" && field === "get") fail(`${key}.get`, "a query has no {value}");
      }
    }
    const options = parse.kind === "enum"
      ? a.options ?? uniqueStrings(Object.values(parse.map ?? {}))
      : a.options;
    if (parse.kind === "enum" && (!options || options.length === 0)) {
      fail(key, "an enum needs options or a map");
    }
    for (const vars of expand(a.channels, key)) {
      const id = a.channels ? vars[a.channels]! : undefined;
      const name = nameIn(base, a.channels, vars);
      claimAttrName(name, key, seen, fail);
      const { min, max } = channelLimits(a, id, key, fail);
      const attr: Attr = {
        name,
        type: a.type === "number" && type === "integer" ? "number" : type,
        rw: a.set !== undefined,
        status: a.status ?? false,
      };
      if (a.units !== undefined) attr.units = a.units;
      if (min !== undefined) attr.min = min;
      if (max !== undefined) attr.max = max;
      if (options !== undefined) attr.options = options;
      if (a.precision !== undefined) attr.precision = a.precision;
      if (a.description !== undefined) attr.description = a.description;
      const fill = (tpl: string | undefined) => tpl === undefined ? undefined : fillVars(tpl, vars);
      attrs.push({
        attr,
        base,
        vars,
        get: fill(a.get),
        set: fill(a.set),
        parse,
        format: a.format,
        values: a.values,
        wait: a.wait ?? false,
        reply: a.reply ?? false,
        sim: { ...a.sim, reply: fill(a.sim?.reply) },
      });
    }
  }
  for (const ia of attrs) {
    const f = ia.sim.follows;
    if (f !== undefined && !attrs.some((x) => x.base === f)) {
      fail(`attrs.${ia.base}.sim.follows`, `no attribute "${f}"`);
    }
  }
  const actions: InstrumentAction[] = [];
  for (const [base, a] of Object.entries(raw.actions ?? {})) {
    const key = `actions.${base}`;
    if (!/^[a-z][a-z0-9_]*$/.test(base)) fail(key, "action names are snake_case");
    const allowed = [...RUNTIME_VARS, ...(a.channels ? [a.channels] : [])];
    for (const p of placeholders(a.command)) {
      if (!allowed.includes(p)) fail(`${key}.command`, `unknown placeholder {${p}}`);
    }
    for (const vars of expand(a.channels, key)) {
      const name = nameIn(base, a.channels, vars);
      if (seen.has(name)) fail(key, `"${name}" is already an attribute or action`);
      seen.add(name);
      actions.push({
        name,
        command: fillVars(a.command, vars),
        description: a.description,
        wait: a.wait ?? false,
        reply: a.reply ?? false,
      });
    }
  }
  if (attrs.length === 0 && actions.length === 0) {
    fail("attrs", "a definition needs at least one attribute");
  }
  return {
    ...identity(raw, file, name),
    protocol,
    transport,
    identify,
    init: raw.init ?? [],
    errors,
    completion: {
      query: raw.completion?.query ?? "*OPC?",
      timeoutMs: ms(raw.completion?.timeout, 10_000, "completion.timeout"),
    },
    simIdn: raw.sim?.idn ??
      `${raw.manufacturer ?? "labwire"},${raw.model ?? name},SIM00001,1.0`,
    layouts,
    attrs,
    actions,
    channels,
  };
}

/** The rest of a `protocol = "modbus"` definition: register attributes and `[modbus]`. */
function compileModbus(
  raw: RawDefinition,
  file: string,
  name: string,
  transport: TransportDefaults,
  fail: (key: string, message: string) => never,
): Instrument {
  for (const k of ["init", "identify", "errors", "completion", "layouts", "actions"] as const) {
    if (raw[k] !== undefined) fail(k, `"${k}" is for message-based instruments, not Modbus`);
  }
  const channels: Record<string, string[]> = {};
  const channelNames: Record<string, string> = {};
  for (const [group, c] of Object.entries(raw.channels ?? {})) {
    if (!/^[a-z_][a-z0-9_]*$/.test(group)) {
      fail(`channels.${group}`, "channel group names are snake_case");
    }
    channels[group] = c.ids.map(String);
    channelNames[group] = c.name ?? `{attr}_{${group}}`;
  }
  const m = raw.modbus ?? {};
  const wordOrder = m.word_order ?? "ABCD";
  const attrs: InstrumentAttr[] = compileRegisterAttrs(raw.attrs ?? {}, {
    file,
    wordOrder,
    channels,
    channelNames,
  }).map((r) => ({ ...r, wait: false, reply: false }));
  if (attrs.length === 0) fail("attrs", "a definition needs at least one attribute");
  return {
    ...identity(raw, file, name),
    protocol: "modbus",
    transport,
    init: [],
    completion: { query: "", timeoutMs: 0 },
    simIdn: `${raw.manufacturer ?? "labwire"},${raw.model ?? name}`,
    layouts: {},
    attrs,
    actions: [],
    channels,
    modbus: {
      unit: m.unit ?? 1,
      wordOrder,
      maxRead: m.max_read ?? 125,
      maxGap: m.max_gap ?? 0,
    },
  };
}

/** What names a definition of either family: its name, file and what it says it is. */
function identity(raw: RawDefinition, file: string, name: string) {
  const { manufacturer, model, description } = raw;
  return { name, source: file, manufacturer, model, description };
}

function fillVars(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-z_][a-z0-9_]*)\}/gi, (whole, n: string) => vars[n] ?? whole);
}

function uniqueStrings(values: unknown[]): string[] {
  return [...new Set(values.map(String))];
}

/** Finds an attribute or action of an instrument; a usage error with a suggestion otherwise. */
export function instrumentAttr(inst: Instrument, name: string): InstrumentAttr {
  const a = inst.attrs.find((x) => x.attr.name === name);
  if (!a) throw new NotFound(`${inst.name} has no attribute "${name}"`);
  return a;
}
