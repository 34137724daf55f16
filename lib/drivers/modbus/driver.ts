/**
 * The `modbus` family's driver: a {@linkcode Device} for any register map, over Modbus TCP
 * (`modbus://HOST[:502]?unit=1&instrument=NAME`) or RTU on a serial line
 * (`modbus+rtu:///dev/ttyUSB0?baud=19200&parity=even&unit=3&instrument=NAME`). The map is a
 * definition (`instrument = "omega-cn7500"`) or, for a generic device, the `registers` table of
 * its config entry. A read asks for the wanted attributes' registers in as few requests as the
 * protocol allows (adjacent registers coalesced, split at 125); a write encodes the value the
 * register's way and sends it with FC5, FC6 or FC16 as the map says (a `bit` of a register is
 * read, changed and written back).
 *
 * @example
 * ```ts ignore
 * const dev = await modbusDriver.open(parseAddress("modbus://127.0.0.1:1502?instrument=omega-cn7500"), { name: "tc", options: {} });
 * await dev.read(); // { process_value: 24.9, set_value: 25, … }
 * await dev.write("set_value", 30);
 * ```
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import { type Attr, findAttr, type Value, type Values } from "../../device/attr.ts";
import type { CallOptions, Device } from "../../device/device.ts";
import { DeviceError, UsageError, WriteRejected } from "../../device/errors.ts";
import type { Driver, OpenContext } from "../../device/registry.ts";
import { didYouMean } from "../../device/suggest.ts";
import type { Instrument, InstrumentAttr } from "../../instruments/definition.ts";
import type { RawAttr } from "../../instruments/schema.ts";
import { MODBUS_INFO, MODBUS_RTU_INFO } from "./driver_info.ts";
import { parseWindow } from "../../transport/pipeline.ts";
import { CLIENT_PARAMS, type ModbusClient, openModbusClient, type RegisterRead } from "./client.ts";
import { compileRegisterAttrs } from "../../instruments/register_map.ts";
import {
  decodeRegisters,
  EncodeError,
  encodeRegisters,
  type PlanBlock,
  planReads,
  type RegisterSpec,
  WORD_ORDERS,
  type WordOrder,
} from "./registers.ts";

/** Address options modbus:// and modbus+rtu:// understand. */
const KNOWN_PARAMS = ["instrument", ...CLIENT_PARAMS];

/** One attribute of a read: where its registers are in the poll's answers. */
interface Field {
  /** Attribute name. */
  name: string;
  /** Its register. */
  spec: RegisterSpec;
  /** Index of its block in the plan. */
  block: number;
  /** Its offset in that block. */
  at: number;
  /**
   * A register read as it is (uint16 1, int16 2: no scale, offset or map), decoded in the
   * poll's own loop; 0: by {@linkcode decodeRegisters}.
   */
  plain: number;
}

/** A read of some attributes: the requests to make and where each value is in the answers. */
interface Poll {
  /** The blocks of adjacent registers to read. */
  blocks: PlanBlock<InstrumentAttr>[];
  /** The attributes, in the caller's order. */
  fields: Field[];
  /** A poll of one request: its read, made once, resolving with the values. */
  read: RegisterRead<Values> | undefined;
  /**
   * Every field's name, in order: each reading is a copy, made with all its properties at once
   * (not grown one property at a time).
   */
  shape: Values;
}

/** The values of a poll from its one block's registers (`one`) or every block's (`all`). */
function values(poll: Poll, one: number[] | undefined, all: number[][] | undefined): Values {
  const out: Values = { ...poll.shape };
  const fields = poll.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const regs = one ?? all![f.block]!;
    // Most attributes are a plain register: no call per attribute (a poll's read runs cold,
    // interpreted, for its first few hundred times).
    const plain = f.plain;
    if (plain === 0) out[f.name] = decodeRegisters(f.spec, regs, f.at);
    else {
      const w = regs[f.at]!;
      out[f.name] = plain === 2 && w >= 0x8000 ? w - 0x10000 : w;
    }
  }
  return out;
}

/**
 * The values of a one-request poll, made by a function compiled once for the poll's fields: one
 * object literal with every attribute's value, written by name. The generic loop of `values`
 * stores each attribute by a key it reads from the field, and a store site that sees many keys
 * goes megamorphic — a stub-cache probe per attribute, ~1.3k of the ~2.1k instructions a warm
 * read of 10 attributes spent in `values` (callgrind with V8's perf map), a third of labwire's
 * own work per round trip. Names are written as JSON string literals and offsets as integers;
 * a poll it cannot express exactly (a name `__proto__`, which a literal would take for the
 * prototype; a name twice) or a runtime without code generation from strings gets undefined,
 * and the generic loop.
 */
function compileValues(fields: readonly Field[]): ((regs: number[]) => Values) | undefined {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.name === "__proto__" || seen.has(f.name) || !Number.isInteger(f.at)) return undefined;
    seen.add(f.name);
    const w = `r[${f.at}]`;
    const value = f.plain === 1
      ? w
      : f.plain === 2
      ? `(${w} >= 0x8000 ? ${w} - 0x10000 : ${w})`
      : `d(f[${i}].spec, r, ${f.at})`;
    parts.push(`${JSON.stringify(f.name)}: ${value}`);
  }
  try {
    const make = new Function("d", "f", `return (r) => ({ ${parts.join(", ")} });`);
    return make(decodeRegisters, fields) as (regs: number[]) => Values;
  } catch {
    return undefined;
  }
}

/** A field's {@linkcode Field.plain}: how its register decodes. */
function plainOf(spec: RegisterSpec): number {
  if (spec.map || spec.scale !== 1 || spec.offset !== 0) return 0;
  return spec.type === "uint16" ? 1 : spec.type === "int16" ? 2 : 0;
}

/** One device (one unit id) behind a Modbus line. */
export class ModbusDevice implements Device {
  readonly #attrs: Attr[];
  readonly #byName = new Map<string, InstrumentAttr>();
  readonly #polls = new Map<string, Poll>();
  /** The read plan of the status attributes (a read without names). */
  #statusPoll: Poll | undefined;
  readonly #status: string[];
  #closed = false;
  /** Requests sent by reads (the bench reports requests per poll). */
  requests = 0;

  /** Wraps a client; no I/O until the first call. */
  constructor(
    readonly name: string,
    readonly address: string,
    readonly driver: string,
    readonly inst: Instrument,
    readonly client: ModbusClient,
  ) {
    for (const a of inst.attrs) this.#byName.set(a.attr.name, a);
    this.#attrs = inst.attrs.map((a) => a.attr);
    this.#status = this.#attrs.filter((a) => a.status).map((a) => a.name);
  }

  /** The map's attributes. */
  attrs(): Promise<Attr[]> {
    return Promise.resolve(this.#attrs.map((a) => ({ ...a })));
  }

  /** No techniques beyond sampling and holding. */
  techniques(): string[] {
    return [];
  }

  /** Reads the named attributes (the status ones by default) in as few requests as possible. */
  read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    if (this.#closed) return Promise.reject(new DeviceError(`${this.name} is closed`, this.name));
    // A plain read (every poll's) takes the status plan without a call.
    let poll = names === undefined ? this.#statusPoll : undefined;
    if (poll === undefined) {
      try {
        poll = this.#poll(names);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    // Most polls are one request (adjacent registers coalesced): one promise, no arrays — and
    // the function's last return (V8 weighs a call by where it returns to optimize it).
    const read = poll.read;
    if (read === undefined) return this.#readBlocks(poll, opts);
    this.requests++;
    return read.read(opts);
  }

  /**
   * A poll of several blocks (or of a block wider than one request): every request is asked at
   * once — on a pipelined connection they are in flight together (one write, one read), on a
   * window of 1 the line sends them one after another.
   */
  async #readBlocks(poll: Poll, opts?: CallOptions): Promise<Values> {
    const regs = await Promise.all(poll.blocks.map((block) => {
      this.requests += block.requests.length;
      return block.requests.length === 1
        ? this.client.read(block.table, block.address, block.count, opts)
        : Promise.all(block.requests.map(([a, n]) => this.client.read(block.table, a, n, opts)))
          .then((parts) => parts.flat());
    }));
    return values(poll, undefined, regs);
  }

  /** The read plan of `names` (the status attributes when undefined), made once per list. */
  #poll(names: readonly string[] | undefined): Poll {
    const key = names === undefined ? "" : names.join("\0");
    let poll = this.#polls.get(key);
    if (poll) return poll;
    const wanted = names ?? this.#status;
    for (const n of wanted) findAttr(this.#attrs, n, this.name);
    const m = this.inst.modbus;
    const blocks = planReads(
      wanted.map((n) => {
        const a = this.#byName.get(n)!;
        return { key: a, spec: a.register! };
      }),
      { maxRegisters: m?.maxRead, maxGap: m?.maxGap },
    );
    // Values in the caller's order, not the plan's.
    const fields: Field[] = [];
    for (const n of wanted) {
      blocks.forEach((block, b) => {
        for (const it of block.items) {
          if (it.key.attr.name === n) {
            fields.push({
              name: n,
              spec: it.spec,
              block: b,
              at: it.offset,
              plain: plainOf(it.spec),
            });
          }
        }
      });
    }
    const shape: Values = {};
    for (const f of fields) shape[f.name] = null;
    const made: Poll = { blocks, fields, read: undefined, shape };
    const b = blocks[0]!;
    if (blocks.length === 1 && b.requests.length === 1) {
      made.read = this.client.registerRead(
        b.table,
        b.address,
        b.count,
        compileValues(fields) ?? ((regs) => values(made, regs, undefined)),
      );
    }
    poll = made;
    if (this.#polls.size < 64) this.#polls.set(key, poll);
    if (names === undefined) this.#statusPoll = poll;
    return poll;
  }

  /** Writes one attribute (validated by the caller against its Attr) with the map's function code. */
  async write(name: string, value: Value, opts?: CallOptions): Promise<void> {
    if (this.#closed) throw new DeviceError(`${this.name} is closed`, this.name);
    const a = this.#byName.get(name);
    if (!a) throw new WriteRejected(`${this.name} has no attribute "${name}"`, name);
    const r = a.register!;
    if (!r.write) {
      throw new WriteRejected(
        `${name} is read-only (${
          r.table === "input" || r.table === "discrete" ? r.table : "the map has no write ="
        })`,
        name,
      );
    }
    if (value === null || Array.isArray(value)) {
      throw new WriteRejected(`${name}: expected a single value`, name);
    }
    let words: number[];
    try {
      words = encodeRegisters(r, value);
    } catch (err) {
      if (!(err instanceof EncodeError)) throw err;
      throw new WriteRejected(`${name}: ${err.message}`, name, { cause: err });
    }
    const call = { timeout: opts?.timeout, signal: opts?.signal };
    if (r.table === "coil") {
      await this.client.writeCoils(r.address, [words[0] !== 0], r.write as 5 | 15, call);
      return;
    }
    if (r.type === "bit") {
      // One bit of a register: read it, change the bit, write it back.
      const [cur] = await this.client.read("holding", r.address, 1, call);
      const mask = 1 << (r.bit ?? 0);
      words = [(cur! & ~mask) | words[0]!];
    }
    await this.client.writeRegisters(r.address, words, r.write as 6 | 16, call);
  }

  /** Closes the line (shared lines close with their last user). */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.client.close();
    }
    return Promise.resolve();
  }
}

/** A definition for a generic device: its `registers` from the config. */
export function genericInstrument(
  registers: Record<string, RawAttr>,
  device: string,
  wordOrder: WordOrder = "ABCD",
): Instrument {
  const attrs: InstrumentAttr[] = compileRegisterAttrs(registers, {
    file: "config",
    prefix: `devices.${device}.registers`,
    wordOrder,
  }).map((r) => ({ ...r, wait: false, reply: false }));
  if (attrs.length === 0) {
    throw new UsageError(`${device}: registers is empty; declare at least one register`);
  }
  // With no status attribute declared, a plain read gives them all.
  if (!attrs.some((a) => a.attr.status)) { for (const a of attrs) a.attr.status = true; }
  return {
    name: "modbus",
    source: "config",
    protocol: "modbus",
    transport: {
      port: 502,
      baud: 19200,
      bits: 8,
      parity: "even",
      stop: 1,
      flow: "none",
      readTermination: "",
      writeTermination: "",
      encoding: "latin1",
      timeoutMs: 1000,
      delayMs: 0,
      window: 1,
    },
    init: [],
    completion: { query: "", timeoutMs: 0 },
    simIdn: "labwire,modbus",
    layouts: {},
    attrs,
    actions: [],
    channels: {},
    modbus: { unit: 1, wordOrder, maxRead: 125, maxGap: 0 },
  };
}

/** Opens the device of a `modbus://` or `modbus+rtu://` address. */
async function openModbusDevice(address: Address, ctx: OpenContext): Promise<Device> {
  for (const key of address.params.keys()) {
    if (!KNOWN_PARAMS.includes(key)) {
      throw new UsageError(
        `${address.text}: unknown option "${key}"; ${address.scheme}:// takes ${
          KNOWN_PARAMS.filter((k) =>
            address.scheme === "modbus+rtu" ||
            !["baud", "bits", "parity", "stop", "flow"].includes(k)
          )
            .map((k) => `?${k}=`).join(", ")
        }`,
        didYouMean(key, KNOWN_PARAMS) || undefined,
      );
    }
  }
  const name = address.params.get("instrument") ??
    (typeof ctx.options.instrument === "string" ? ctx.options.instrument : undefined);
  const registers = ctx.options.registers as Record<string, RawAttr> | undefined;
  const orderOpt = ctx.options.word_order;
  if (orderOpt !== undefined && !WORD_ORDERS.includes(orderOpt as WordOrder)) {
    throw new UsageError(`${ctx.name}: word_order must be one of ${WORD_ORDERS.join(", ")}`);
  }
  let inst: Instrument;
  if (name !== undefined) {
    if (registers !== undefined) {
      throw new UsageError(
        `${ctx.name}: give instrument = "${name}" or registers, not both`,
        `to add registers to ${name}, write a definition with extends = "${name}"`,
      );
    }
    // Loaded on demand: the definition parser stays out of other verbs' start-up.
    const { findInstrument } = await import("../../instruments/loader.ts");
    inst = await findInstrument(name);
    if (inst.protocol !== "modbus") {
      throw new UsageError(
        `${address.text}: ${name} is a ${inst.protocol} instrument, not a Modbus register map`,
        `use tcp:// or serial:// for it; labwire instruments list shows each definition's protocol`,
      );
    }
  } else if (registers !== undefined) {
    inst = genericInstrument(registers, ctx.name, orderOpt as WordOrder | undefined);
  } else {
    throw new UsageError(
      `${address.text}: which registers? add ?instrument=NAME (a register map), or declare ` +
        `[devices.${tomlKey(ctx.name)}.registers] in the config`,
      `labwire instruments list shows the maps; for raw access: labwire query ${address.text} 'read holding 0 10'`,
    );
  }
  return openRegisterMap(address, inst, ctx);
}

/**
 * Opens a device of a given (already loaded) register map at `address`; `open` of the modbus
 * drivers once they have the map, and `instruments check --sim`.
 */
export function openRegisterMap(
  address: Address,
  inst: Instrument,
  ctx: OpenContext,
): ModbusDevice {
  const unitText = address.params.get("unit");
  const unit = unitText !== null
    ? parseUnit(unitText, address.text)
    : typeof ctx.options.unit === "number"
    ? ctx.options.unit
    : inst.modbus?.unit ?? 1;
  const t = inst.transport;
  const windowText = address.params.get("window");
  const window = windowText !== null
    ? modbusWindow(windowText, address)
    : typeof ctx.options.window === "number"
    ? modbusWindow(String(ctx.options.window), address)
    : undefined;
  const client = openModbusClient(address, {
    unit,
    window,
    timeout: ctx.timeout ?? t.timeoutMs,
    port: t.port,
    serial: { baud: t.baud, bits: t.bits, parity: t.parity, stop: t.stop, flow: t.flow },
    device: ctx.name,
  });
  return new ModbusDevice(ctx.name, address.text, address.scheme, inst, client);
}

/**
 * Reads `?window=` / `window =`: requests in flight on one Modbus TCP connection; RTU takes only
 * 1 (one master, one request on the bus at a time).
 */
export function modbusWindow(text: string, address: Address): number {
  const n = parseWindow(text, address.text);
  if (n > 1 && address.scheme === "modbus+rtu") {
    throw new UsageError(
      `${address.text}: window=${n}: a serial line carries one request at a time`,
      "leave window out on modbus+rtu:// (it is 1)",
    );
  }
  return n;
}

/** Reads `?unit=`; a usage error when it is not a whole number. */
export function parseUnit(text: string, where: string): number {
  if (!/^\d{1,3}$/.test(text.trim())) {
    throw new UsageError(
      `${where}: unit=${text} is not a unit id`,
      "a unit id is a number, e.g. unit=1",
    );
  }
  return Number(text);
}

/** `modbus://HOST[:502]?unit=1&instrument=NAME`: a register map over Modbus TCP. */
export const modbusDriver: Driver = { ...MODBUS_INFO, open: openModbusDevice };

/** `modbus+rtu:///dev/ttyUSB0?baud=19200&parity=even&unit=3`: a register map over Modbus RTU. */
export const modbusRtuDriver: Driver = { ...MODBUS_RTU_INFO, open: openModbusDevice };

/** A TOML key as written in a table header: bare when it may be, quoted otherwise. */
function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}
