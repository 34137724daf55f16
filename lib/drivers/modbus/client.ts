/**
 * A Modbus client on a line: one request at a time per line (devices with different unit ids
 * on one RS-485 bus or behind one TCP gateway share it and never interleave), Modbus TCP with
 * transaction ids checked — an answer with another transaction or unit id is a stale answer
 * and is dropped — or Modbus RTU with CRC checks and the inter-frame silence kept between
 * frames; reads and writes split at the protocol limits. The driver and `labwire query` use it.
 *
 * @example
 * ```ts ignore
 * const c = openModbusClient(parseAddress("modbus://127.0.0.1:1502"), { unit: 1 });
 * await c.read("holding", 4096, 2); // [250, 251]
 * await c.writeRegisters(4097, [300], 6);
 * c.close();
 * ```
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import { formatMs } from "../../device/device.ts";
import { TimeoutError, UsageError } from "../../device/errors.ts";
import type { LineIO, MessageLine } from "../../transport/message.ts";
import type { IoOptions } from "../../transport/byte_stream.ts";
import type { Framer } from "../../transport/framing.ts";
import { type Keyed, type Outcome, UnansweredBefore } from "../../transport/pipeline.ts";
import { openLine } from "../../transport/open.ts";
import { type LineSettings, parseSerialOptions, SERIAL_KEYS } from "../../transport/serial.ts";
import { sleep } from "../../transport/abortable.ts";
import { parseTcpTarget } from "../../transport/tcp.ts";
import {
  decodeRtu,
  encodeMbapRequest,
  encodeRtu,
  MBAP_LENGTH,
  mbapLength,
  rtuResponseLength,
  rtuSendMs,
  rtuSilenceMs,
} from "./adu.ts";
import {
  decodeReadRegisters,
  decodeResponse,
  encodeRequest,
  FUNCTION_NAMES,
  LIMITS,
  ModbusException,
  ModbusFrameError,
  type Request,
  type Response,
  type Table,
  word,
} from "./protocol.ts";
import { isBitTable } from "./registers.ts";

/** Per-line state shared by every client on it (the line is shared by port). */
interface LineState {
  /** Next transaction id (TCP). */
  transaction: number;
  /** No RTU frame may start before this time (performance.now ms): the inter-frame silence. */
  quietUntil: number;
  /** Stale or foreign answers dropped. */
  dropped: number;
}

const states = new WeakMap<MessageLine, LineState>();

function lineState(line: MessageLine): LineState {
  let s = states.get(line);
  if (!s) states.set(line, s = { transaction: 0, quietUntil: 0, dropped: 0 });
  return s;
}

/** How a client talks: framing, unit id, line pacing. */
export interface ModbusClientOptions {
  /** Unit id (slave address) 0…247 (RTU) / 0…255 (TCP). */
  unit: number;
  /** Deadline of one request, ms (default 1000). */
  timeout?: number;
  /** Serial line defaults the address does not give (RTU). */
  serial?: Partial<LineSettings>;
  /** Default TCP port when the address has none (502). */
  port?: number;
  /** Device name carried by errors. */
  device?: string;
  /** Share the line with other devices on the same port (default true). */
  shared?: boolean;
  /**
   * Modbus TCP: requests in flight at once on the connection, matched by transaction id
   * (default {@linkcode DEFAULT_WINDOW}; 1 for a device that takes one request at a time).
   * RTU is always 1.
   */
  window?: number;
}

/** Requests in flight on one Modbus TCP connection unless the device says otherwise. */
export const DEFAULT_WINDOW = 8;

/** Calls' deadline and cancellation. */
export interface ModbusCallOptions {
  /** Deadline, ms. */
  timeout?: number;
  /** Caller's abort. */
  signal?: AbortSignal;
}

/** A register read made once and asked many times (a poll's): see {@linkcode ModbusClient.registerRead}. */
export interface RegisterRead<T> {
  /** Sends the read; resolves with what its `use` makes of the registers. */
  read(opts?: ModbusCallOptions): Promise<T>;
}

/** A Modbus TCP answer frame in the line's receive buffer: `bytes[at…end)`, valid while decoded. */
interface FrameView {
  bytes: Uint8Array;
  at: number;
  end: number;
}

/** The outcome of requests other than the poll's reads: the answer's PDU, copied out. */
const PDU_COPY: Outcome<FrameView, Uint8Array> = {
  decode: (f) => f.bytes.slice(f.at + MBAP_LENGTH, f.end),
  failed: (err) => err,
};

/** A Modbus client for one unit id on a (possibly shared) line. */
export class ModbusClient {
  readonly #state: LineState;
  readonly #silence: number;

  /** Wraps an open line; `rtu` selects the framing, `baud` paces RTU frames. */
  constructor(
    readonly line: MessageLine,
    readonly rtu: boolean,
    readonly unit: number,
    readonly baud: number,
    readonly timeout: number,
    readonly label: string,
    readonly device?: string,
  ) {
    this.#state = lineState(line);
    this.#silence = rtuSilenceMs(baud);
    this.#plainIo = { timeout };
  }

  /** Answers dropped on this line because their transaction or unit id was not the one asked. */
  get dropped(): number {
    return this.#state.dropped + this.line.strays;
  }

  /** Sends one request and returns its decoded response (exceptions thrown, naming address and meaning). */
  async request(req: Request, opts?: ModbusCallOptions): Promise<Response | undefined> {
    // Named only when something fails: building the text costs as much as a request's framing.
    const what = () => `${FUNCTION_NAMES[req.fc]} ${describeSpan(req)} of unit ${this.unit}`;
    let answer: Uint8Array | undefined;
    try {
      if (this.rtu) {
        const pdu = encodeRequest(req);
        answer = await this.line.exchange((io) => this.#rtu(io, pdu), this.#io(opts), what);
      } else {
        const adu = encodeMbapRequest(this.#nextTransaction(), this.unit, req);
        answer = await this.line.send(
          adu,
          word(adu, 0) * 256 + this.unit,
          this.#mbap,
          this.#io(opts),
          what,
          PDU_COPY,
        );
      }
    } catch (err) {
      throw this.#failed(err, what, opts?.timeout ?? this.timeout);
    }
    // A broadcast (unit 0) is never answered.
    if (answer === undefined) return undefined;
    try {
      return decodeResponse(answer, req, this.device);
    } catch (err) {
      throw this.#located(err);
    }
  }

  /**
   * A register read of `count` registers (or bits, as 0/1) of `table` from `address`, made once
   * and sent at every {@linkcode RegisterRead.read}, whose words `use` turns into the caller's
   * value in the same step (the words' array may be reused by the next read: `use` must not
   * keep it). Over TCP, a read of one request (FC3, FC4; at most 125 registers) is
   * the hot path of every poll: its request is encoded once (the line writes it with each read's
   * transaction id stamped in), its answer decoded where it was received, and the caller's
   * `await` resumes from the read that landed it — no async frame, `then`, array or closure per
   * read.
   */
  registerRead<T>(
    table: Table,
    address: number,
    count: number,
    use: (words: number[]) => T,
  ): RegisterRead<T> {
    if (this.rtu || isBitTable(table) || count < 1 || count > LIMITS.readRegisters) {
      return { read: (opts) => this.#readSplit(table, address, count, opts).then(use) };
    }
    const fc = table === "holding" ? 3 : 4;
    // Validated here once (an address out of range throws now, to the read's planner).
    const template = encodeMbapRequest(0, this.unit, { fc, address, count });
    const unit = this.unit;
    const what = () => `${FUNCTION_NAMES[fc]} ${describeRange(address, count)} of unit ${unit}`;
    // One array for every answer: `use` takes what it needs from it before it returns.
    const words: number[] = new Array(count).fill(0);
    const outcome: Outcome<FrameView, T> = {
      decode: (frame) => {
        let registers: number[];
        try {
          registers = decodeReadRegisters(
            frame.bytes,
            frame.at + MBAP_LENGTH,
            fc,
            address,
            count,
            this.device,
            frame.end,
            words,
          );
        } catch (err) {
          throw this.#located(err);
        }
        return use(registers);
      },
      failed: (err, timeout) => this.#failed(err, what, timeout),
      // The template goes out with each read's transaction id (the key's high bytes).
      stamp: (out, at, key) => {
        out[at] = key >>> 16;
        out[at + 1] = (key >>> 8) & 0xff;
      },
    };
    const st = this.#state;
    const plainIo = this.#plainIo;
    return {
      read: (opts) => {
        // The transaction id and the options inline: every poll's read comes here.
        const key = (st.transaction = (st.transaction + 1) & 0xffff) * 256 + unit;
        const io = opts === undefined ? plainIo : this.#io(opts);
        return this.line.send(template, key, this.#mbap, io, what, outcome);
      },
    };
  }

  /** The line's deadline and cancellation of a call: the caller's, else this client's timeout. */
  #io(opts: ModbusCallOptions | undefined): IoOptions {
    if (opts === undefined || (opts.timeout === undefined && opts.signal === undefined)) {
      return this.#plainIo;
    }
    return { timeout: opts.timeout ?? this.timeout, signal: opts.signal };
  }
  readonly #plainIo: IoOptions;

  /** What a failed request throws: a timeout that says what to check, errors naming the line. */
  #failed(err: unknown, what: () => string, timeout: number): unknown {
    if (!(err instanceof TimeoutError)) return this.#located(err);
    const check = this.rtu
      ? "check the unit id, baud rate and parity, and the wiring (A/B)"
      : "check the unit id (a gateway needs the serial device's) and the port";
    if (err instanceof UnansweredBefore) {
      // A request behind one that got no answer (a read of several blocks on a silent device
      // may fail with it first): the user hears of the one that got none.
      return new TimeoutError(
        `${this.label}: no answer to ${err.request} within ${formatMs(err.timeout)}; ${check}`,
        this.device,
        { cause: err },
      );
    }
    if (/^\S+: no answer to /.test(err.message)) {
      return new TimeoutError(
        `${this.label}: no answer to ${what()} within ${formatMs(timeout)}; ${check}`,
        this.device,
        { cause: err },
      );
    }
    return err;
  }

  /** A codec error (exception, malformed answer) with the line and unit it came from. */
  #located(err: unknown): unknown {
    if (err instanceof ModbusException || err instanceof ModbusFrameError) {
      return withWhere(err, `${this.label} unit ${this.unit}`);
    }
    return err;
  }

  /** The line's next transaction id (TCP). */
  #nextTransaction(): number {
    const st = this.#state;
    return st.transaction = (st.transaction + 1) & 0xffff;
  }

  /**
   * The next whole MBAP frame received, keyed by its transaction and unit id: read where it
   * was received, and handed on as a view of the buffer (decoded or copied at once).
   */
  readonly #mbap = (framer: Framer): Keyed<FrameView> | undefined => {
    const size = framer.size;
    if (size < MBAP_LENGTH) return undefined;
    const b = framer.buffer;
    const at = framer.offset;
    // The header's fields read in place; a bad one is reported with the header's bytes.
    const length = (b[at + 4]! << 8) | b[at + 5]!;
    if (b[at + 2] !== 0 || b[at + 3] !== 0 || length < 2 || length > LIMITS.pdu + 1) {
      mbapLength(framer.peek(MBAP_LENGTH)!, this.device);
    }
    const total = MBAP_LENGTH - 1 + length;
    if (size < total) return undefined;
    framer.skip(total);
    // One object for every answer: the line reads it at once.
    const frame = this.#frame;
    frame.bytes = b;
    frame.at = at;
    frame.end = at + total;
    const keyed = this.#keyed;
    keyed.key = ((b[at]! << 8) | b[at + 1]!) * 256 + b[at + 6]!;
    return keyed;
  };
  readonly #frame: FrameView = { bytes: new Uint8Array(), at: 0, end: 0 };
  readonly #keyed: Keyed<FrameView> = { key: 0, value: this.#frame };

  async #rtu(io: LineIO, pdu: Uint8Array): Promise<Uint8Array | undefined> {
    const st = this.#state;
    const wait = st.quietUntil - performance.now();
    if (wait > 0) await sleep(wait, io.signal);
    const frame = encodeRtu(this.unit, pdu);
    await io.writeBytes(frame);
    // write() returns once the OS has the bytes; they take this long on the wire.
    st.quietUntil = performance.now() + rtuSendMs(frame.length, this.baud) + this.#silence;
    if (this.unit === 0) return undefined;
    for (;;) {
      let buf = await io.readBytes(2);
      let len = rtuResponseLength(buf);
      if (len === undefined) {
        buf = concat(buf, await io.readBytes(1));
        len = rtuResponseLength(buf)!;
      }
      if (len === -1) {
        throw new ModbusFrameError(
          `an answer with unknown function code ${buf[1]} (noise on the line, or another ` +
            `master on the bus?)`,
          this.device,
        );
      }
      buf = concat(buf, await io.readBytes(len - buf.length));
      st.quietUntil = performance.now() + this.#silence;
      const { unit, pdu: answer } = decodeRtu(buf, this.device);
      if (unit === this.unit) return answer;
      st.dropped++;
    }
  }

  /** Reads `count` registers (or bits, as 0/1) of a table from `address`, split at the limits. */
  read(
    table: Table,
    address: number,
    count: number,
    opts?: ModbusCallOptions,
  ): Promise<number[]> {
    return this.readAs(table, address, count, opts, asIs);
  }

  /**
   * Like {@linkcode ModbusClient.read}, with the words handed to `use` in the same promise step:
   * a poll decodes its values there (one promise per read, not one more).
   */
  readAs<T>(
    table: Table,
    address: number,
    count: number,
    opts: ModbusCallOptions | undefined,
    use: (words: number[]) => T,
  ): Promise<T> {
    if (this.rtu && this.unit === 0) {
      return Promise.reject(
        new UsageError(
          `${this.label}: unit 0 is the RTU broadcast address: it takes writes, nobody answers reads`,
          "give the device's own unit id (1…247) to read",
        ),
      );
    }
    let read: RegisterRead<T>;
    try {
      read = this.registerRead(table, address, count, use);
    } catch (err) {
      return Promise.reject(err);
    }
    return read.read(opts);
  }

  /** A read of bits, or of more registers than one request carries: one request per part. */
  async #readSplit(
    table: Table,
    address: number,
    count: number,
    opts?: ModbusCallOptions,
  ): Promise<number[]> {
    const bits = isBitTable(table);
    const max = bits ? LIMITS.readBits : LIMITS.readRegisters;
    const fc = ({ coil: 1, discrete: 2, holding: 3, input: 4 } as const)[table];
    const out: number[] = [];
    for (let a = address; a < address + count; a += max) {
      const n = Math.min(max, address + count - a);
      const r = await this.request({ fc, address: a, count: n }, opts);
      if (!r) break;
      if ("bits" in r) { for (const b of r.bits) out.push(b ? 1 : 0); }
      else if ("registers" in r) { for (const w of r.registers) out.push(w); }
    }
    return out;
  }

  /** Writes holding registers with FC6 (one at a time) or FC16 (split at 123). */
  async writeRegisters(
    address: number,
    values: number[],
    fc: 6 | 16,
    opts?: ModbusCallOptions,
  ): Promise<void> {
    if (fc === 6) {
      for (let i = 0; i < values.length; i++) {
        await this.request({ fc: 6, address: address + i, value: values[i]! }, opts);
      }
      return;
    }
    for (let i = 0; i < values.length; i += LIMITS.writeRegisters) {
      const chunk = values.slice(i, i + LIMITS.writeRegisters);
      await this.request({ fc: 16, address: address + i, values: chunk }, opts);
    }
  }

  /** Writes coils with FC5 (one at a time) or FC15 (split at 1968). */
  async writeCoils(
    address: number,
    values: boolean[],
    fc: 5 | 15,
    opts?: ModbusCallOptions,
  ): Promise<void> {
    if (fc === 5) {
      for (let i = 0; i < values.length; i++) {
        await this.request({ fc: 5, address: address + i, value: values[i]! }, opts);
      }
      return;
    }
    for (let i = 0; i < values.length; i += LIMITS.writeBits) {
      const chunk = values.slice(i, i + LIMITS.writeBits);
      await this.request({ fc: 15, address: address + i, values: chunk }, opts);
    }
  }

  /** Gives up this client's use of the line (the last user closes it). */
  close(): void {
    this.line.close();
  }
}

function asIs(words: number[]): number[] {
  return words;
}

function describeSpan(req: Request): string {
  if (req.fc === 23) return `${req.readAddress} (${req.readCount})`;
  if ("count" in req) return describeRange(req.address, req.count);
  if ("values" in req) return describeRange(req.address, req.values.length);
  return `${req.address}`;
}

function describeRange(address: number, count: number): string {
  return count === 1 ? `${address}` : `${address}…${address + count - 1}`;
}

function withWhere<E extends ModbusException | ModbusFrameError>(err: E, where: string): E {
  // The codec does not know the line: say which one, keep the class (tests and callers use it).
  Object.defineProperty(err, "message", { value: `${where}: ${err.message}` });
  return err;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Address options of modbus:// and modbus+rtu:// that are the line's or the client's. */
export const CLIENT_PARAMS = ["unit", "timeout", "window", ...SERIAL_KEYS] as const;

/**
 * Opens a client on `modbus://HOST[:PORT]` (TCP) or `modbus+rtu:///dev/…?baud=…` (RTU); the
 * address' `?baud=`, `?parity=`… win over `opts.serial`.
 */
export function openModbusClient(address: Address, opts: ModbusClientOptions): ModbusClient {
  const timeout = opts.timeout ?? 1000;
  const rtu = address.scheme === "modbus+rtu";
  const unit = opts.unit;
  if (!Number.isInteger(unit) || unit < 0 || unit > (rtu ? 247 : 255)) {
    throw new UsageError(
      `${address.text}: unit ${unit} is not a unit id`,
      rtu ? "an RTU unit id is 1…247 (0 broadcasts writes)" : "a unit id is 0…255 (1 by default)",
    );
  }
  const lineOpts = {
    // Terminations mean nothing here; the same for every Modbus user so they share the line.
    readTermination: "\n",
    writeTermination: "",
    encoding: "latin1" as const,
    timeout,
    device: opts.device,
    shared: opts.shared,
    window: rtu ? 1 : opts.window ?? DEFAULT_WINDOW,
  };
  if (!rtu) {
    const target = address.target.replace(/\/$/, "");
    const hasPort = /(^\[[^\]]+\]:\d+$)|(^[^:[\]]+:\d+$)/.test(target);
    const { host, port } = parseTcpTarget(hasPort ? target : `${target}:${opts.port ?? 502}`);
    const h = host.includes(":") ? `[${host}]` : host;
    const label = `modbus://${h}:${port}`;
    const line = openLine(`tcp://${h}:${port}`, {
      ...lineOpts,
      label,
      service: "Modbus TCP server (or gateway)",
    });
    return new ModbusClient(line, false, unit, 0, timeout, label, opts.device);
  }
  if (!address.target.startsWith("/")) {
    throw new UsageError(
      `"${address.text}": the port must be an absolute device path`,
      `write modbus+rtu:///dev/${address.target.replace(/^dev\//, "")} (three slashes)`,
    );
  }
  const settings = parseSerialOptions(address.params, opts.serial);
  const params = new URLSearchParams({
    baud: String(settings.baud),
    bits: String(settings.bits),
    parity: settings.parity,
    stop: String(settings.stop),
    flow: settings.flow,
  });
  const line = openLine(`serial://${address.target}?${params}`, lineOpts);
  return new ModbusClient(
    line,
    true,
    unit,
    settings.baud,
    timeout,
    `modbus+rtu://${address.target}`,
    opts.device,
  );
}
