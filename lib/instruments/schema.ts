/**
 * The instrument definition format: one TOML file per instrument, validated by the zod schema
 * here. What each key means is documented in `lib/instruments/README.md`; the loader
 * (`loader.ts`) turns a validated file into an {@linkcode Instrument} with channels expanded.
 *
 * @module
 */
import { z } from "zod";
import { DATA_TYPES, type DataType, WORD_ORDERS } from "./registers.ts";

/** The protocol families (dialects) a definition can speak. */
export const PROTOCOLS = ["scpi", "ascii", "alicat", "pfeiffer", "modbus"] as const;

/** A dialect: how commands are framed and errors reported beyond plain lines. */
export type Protocol = (typeof PROTOCOLS)[number];

/** Parse rules: how an answer's text becomes a value. */
export const PARSE_KINDS = [
  "number",
  "integer",
  "boolean",
  "string",
  "enum",
  "flags",
  "numbers",
  "block",
] as const;

/** One parse rule's kind. */
export type ParseKind = (typeof PARSE_KINDS)[number];

const duration = z.union([z.number().nonnegative(), z.string().min(1)]);
const termination = z.string().max(4);
const perChannelNumber = z.union([z.number(), z.record(z.string(), z.number())]);

/** What the simulator needs beyond the wire description of an attribute. */
const simAttrSchema = z.strictObject({
  /** Initial value (the state a `*RST` returns to). */
  value: z.union([z.number(), z.boolean(), z.string(), z.array(z.number())]).optional(),
  /** Standard deviation of the noise added to a measured value on every read. */
  noise: z.number().nonnegative().optional(),
  /** A measured value that reads the state of another (base) attribute of the same channel. */
  follows: z.string().optional(),
  /** printf-like format of the value in simulated answers (default: the attr's `format`). */
  format: z.string().optional(),
  /** Reply template for answers the parse rule cannot invert (regex captures): `{value}`, `{ATTR}`. */
  reply: z.string().optional(),
  /** Modbus: a measured value that approaches another attribute's state (a process value its set point). */
  approach: z.string().optional(),
  /** Modbus: the time constant of `approach` (default 10 s). */
  tau: duration.optional(),
});

/** Modbus register data types (besides the Attr types `boolean` and `string`). */
export const REGISTER_TYPES = DATA_TYPES.filter((t) => t !== "string") as Exclude<
  DataType,
  "string"
>[];

/** Byte orders of multi-register values. */
const wordOrder = z.enum(WORD_ORDERS);

/** The raw (TOML) form of one attribute. */
export const attrSchema = z.strictObject({
  get: z.string().min(1).optional(),
  set: z.string().min(1).optional(),
  parse: z.enum(PARSE_KINDS).optional(),
  type: z.enum(["number", "integer", "boolean", "string", "enum", "number[]", ...REGISTER_TYPES])
    .optional(),
  /** Modbus: the data table. */
  table: z.enum(["coil", "discrete", "input", "holding"]).optional(),
  /** Modbus: the 0-based PDU address (what goes on the wire). */
  address: z.number().int().min(0).max(65535).optional(),
  /** Modbus: the manual's 1-based number with its table digit (40001 = holding register 0). */
  register: z.number().int().min(1).max(465536).optional(),
  /** Modbus: registers of a string (2 characters each). */
  length: z.number().int().min(1).max(125).optional(),
  /** Modbus: bit index of a `bit` attribute (0 = least significant). */
  bit: z.number().int().min(0).max(15).optional(),
  /** Modbus: byte order of multi-register values (default: the definition's). */
  word_order: wordOrder.optional(),
  /** Modbus: value = raw × scale + offset. */
  offset: z.number().optional(),
  /** Modbus: registers between channels (address of channel i = address + i × stride). */
  stride: z.number().int().min(0).max(65535).optional(),
  /** Modbus: writable; true picks FC5/FC6/FC16 by width, or the function code to use. */
  write: z.union([z.boolean(), z.literal(5), z.literal(6), z.literal(15), z.literal(16)])
    .optional(),
  regex: z.string().optional(),
  token: z.union([z.number().int(), z.string().min(1)]).optional(),
  mask: z.number().int().positive().optional(),
  split: z.string().min(1).optional(),
  layout: z.string().optional(),
  map: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])).optional(),
  bits: z.record(z.string(), z.string()).optional(),
  block: z.enum(["ascii", "f32le", "f32be", "f64le", "f64be"]).optional(),
  scale: z.number().optional(),
  format: z.string().optional(),
  values: z.array(z.number()).optional(),
  units: z.string().optional(),
  min: perChannelNumber.optional(),
  max: perChannelNumber.optional(),
  options: z.array(z.string()).optional(),
  precision: z.number().int().min(0).max(17).optional(),
  status: z.boolean().optional(),
  description: z.string().optional(),
  channels: z.string().optional(),
  wait: z.boolean().optional(),
  reply: z.boolean().optional(),
  sim: simAttrSchema.optional(),
});

/** The raw form of one action (a command without a value). */
export const actionSchema = z.strictObject({
  command: z.string().min(1),
  description: z.string().optional(),
  channels: z.string().optional(),
  wait: z.boolean().optional(),
  reply: z.boolean().optional(),
});

/** The raw form of one channel group. */
export const channelSchema = z.strictObject({
  ids: z.array(z.union([z.string().min(1), z.number().int()])).min(1).max(64),
  name: z.string().optional(),
});

/** The raw form of a layout: a reply split into named fields, shared by several attributes. */
export const layoutSchema = z.strictObject({
  split: z.string().min(1).optional(),
  skip: z.number().int().nonnegative().optional(),
  fields: z.array(z.string()).optional(),
  by_count: z.record(z.string(), z.array(z.string())).optional(),
  status_words: z.array(z.string()).optional(),
  text_field: z.string().optional(),
  reply: z.string().optional(),
});

/** The raw (TOML) form of a whole definition. */
export const definitionSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase letters, digits and -").optional(),
  extends: z.string().optional(),
  manufacturer: z.string().optional(),
  model: z.string().optional(),
  description: z.string().optional(),
  protocol: z.enum(PROTOCOLS).optional(),
  init: z.array(z.string()).optional(),
  transport: z.strictObject({
    port: z.number().int().min(1).max(65535).optional(),
    baud: z.number().int().positive().optional(),
    bits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).optional(),
    parity: z.enum(["none", "even", "odd", "mark", "space"]).optional(),
    stop: z.union([z.literal(1), z.literal(2)]).optional(),
    flow: z.enum(["none", "rtscts", "xonxoff"]).optional(),
    read_termination: termination.optional(),
    write_termination: termination.optional(),
    encoding: z.enum(["ascii", "latin1", "utf-8"]).optional(),
    timeout: duration.optional(),
    delay: duration.optional(),
    window: z.number().int().min(1).max(64).optional(),
    unit: z.string().regex(/^[A-Z]$/, "one letter A–Z").optional(),
  }).optional(),
  identify: z.strictObject({
    query: z.string().optional(),
    match: z.string().optional(),
    on_mismatch: z.enum(["warn", "refuse"]).optional(),
  }).optional(),
  errors: z.strictObject({
    query: z.string().optional(),
    ok: z.string().optional(),
    suffix: z.string().optional(),
    mask: z.number().int().min(0).max(255).optional(),
  }).optional(),
  completion: z.strictObject({
    query: z.string().optional(),
    timeout: duration.optional(),
  }).optional(),
  sim: z.strictObject({
    idn: z.string().optional(),
  }).optional(),
  modbus: z.strictObject({
    /** Default unit id (slave address). */
    unit: z.number().int().min(0).max(255).optional(),
    /** Default byte order of multi-register values. */
    word_order: wordOrder.optional(),
    /** Largest register read per request (a gateway may allow fewer than 125). */
    max_read: z.number().int().min(1).max(125).optional(),
    /** Unused registers a coalesced read may span (default 0: only adjacent registers). */
    max_gap: z.number().int().min(0).max(124).optional(),
  }).optional(),
  channels: z.record(z.string(), channelSchema).optional(),
  layouts: z.record(z.string(), layoutSchema).optional(),
  attrs: z.record(z.string(), attrSchema).optional(),
  actions: z.record(z.string(), actionSchema).optional(),
});

/** A definition as written in TOML (after validation, before channels are expanded). */
export type RawDefinition = z.infer<typeof definitionSchema>;
/** One raw attribute. */
export type RawAttr = z.infer<typeof attrSchema>;
/** One raw action. */
export type RawAction = z.infer<typeof actionSchema>;
/** One raw layout. */
export type RawLayout = z.infer<typeof layoutSchema>;
