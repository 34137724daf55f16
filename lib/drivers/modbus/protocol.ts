/**
 * The Modbus wire protocol, sans I/O: PDUs of function codes 1, 2, 3, 4, 5, 6, 15, 16 and 23
 * (requests and responses, both ways: the driver encodes requests and decodes responses, the
 * simulator the reverse), exception responses decoded into errors that name the function, the
 * address and the meaning. The two framings of a PDU (Modbus TCP's MBAP header, RTU's unit
 * address + CRC-16) are in `adu.ts`. Facts:
 * `shared/protocols/modbus.md`. No sockets, no timers: tested byte for byte.
 *
 * @example
 * ```ts
 * import { decodeResponse, encodeMbap, encodeRequest } from "./protocol.ts";
 * const req = { fc: 3, address: 0, count: 3 } as const;
 * encodeMbap(1, 1, encodeRequest(req)); // 00 01 00 00 00 06 01 03 00 00 00 03
 * decodeResponse(new Uint8Array([3, 6, 0, 0x65, 0, 0x66, 0, 0x67]), req); // { fc: 3, registers: [101, 102, 103] }
 * ```
 *
 * @module
 */
import { DeviceError } from "../../device/errors.ts";
import { describeAddress, type Table } from "../../instruments/registers.ts";

export { describeAddress, type Table, TABLES } from "../../instruments/registers.ts";

/** Protocol limits (per request), from the specification. */
export const LIMITS = {
  /** Registers one FC3/FC4 read may ask for. */
  readRegisters: 125,
  /** Registers one FC16 write may carry. */
  writeRegisters: 123,
  /** Registers FC23 may write. */
  readWriteWrite: 121,
  /** Registers FC23 may read. */
  readWriteRead: 125,
  /** Bits one FC1/FC2 read may ask for. */
  readBits: 2000,
  /** Bits one FC15 write may carry. */
  writeBits: 1968,
  /** Largest PDU, bytes. */
  pdu: 253,
  /** Largest Modbus TCP ADU (MBAP + PDU), bytes. */
  tcpAdu: 260,
} as const;

/** Function codes this codec speaks. */
export const FUNCTION_NAMES: Record<number, string> = {
  1: "read coils",
  2: "read discrete inputs",
  3: "read holding registers",
  4: "read input registers",
  5: "write single coil",
  6: "write single register",
  15: "write multiple coils",
  16: "write multiple registers",
  23: "read/write multiple registers",
};

/** Exception codes and what they mean. */
export const EXCEPTION_NAMES: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target failed to respond",
};

/** What a user can do about each exception. */
const EXCEPTION_HINTS: Record<number, string> = {
  1: "the device does not support this function code",
  2: "check the register map: the device has no such address (0-based, 40001 is holding 0)",
  3: "the value or count is out of the device's range",
  4: "the device failed while handling the request",
  5: "the device accepted a long operation; poll again later",
  6: "the device is busy; retry later",
  8: "the device reported a memory parity error",
  10: "the gateway has no path to that unit id",
  11: "the gateway got no answer from that unit id; check the unit id and the serial side",
};

/** A request PDU, decoded. */
export type Request =
  | { fc: 1 | 2 | 3 | 4; address: number; count: number }
  | { fc: 5; address: number; value: boolean }
  | { fc: 6; address: number; value: number }
  | { fc: 15; address: number; values: boolean[] }
  | { fc: 16; address: number; values: number[] }
  | {
    fc: 23;
    readAddress: number;
    readCount: number;
    writeAddress: number;
    values: number[];
  };

/** A response PDU, decoded (exceptions are thrown as {@linkcode ModbusException}). */
export type Response =
  | { fc: 1 | 2; bits: boolean[] }
  | { fc: 3 | 4 | 23; registers: number[] }
  | { fc: 5; address: number; value: boolean }
  | { fc: 6; address: number; value: number }
  | { fc: 15 | 16; address: number; count: number };

/** A malformed frame or PDU (truncated, wrong length, bad CRC, a response to another request). */
export class ModbusFrameError extends DeviceError {
  /** Creates the error. */
  constructor(message: string, device?: string, options?: ErrorOptions) {
    super(message, device, options);
    this.name = "ModbusFrameError";
  }
}

/** An exception response: the function, the address it was about, the code and its meaning. */
export class ModbusException extends DeviceError {
  /** Creates the error; `message` is built by {@linkcode describeException}. */
  constructor(
    readonly fc: number,
    readonly code: number,
    readonly address: number | undefined,
    device?: string,
  ) {
    super(describeException(fc, code, address), device);
    this.name = "ModbusException";
  }
}

/** The table a function code works on. */
export function tableOf(fc: number): Table | undefined {
  switch (fc) {
    case 1:
    case 5:
    case 15:
      return "coil";
    case 2:
      return "discrete";
    case 4:
      return "input";
    case 3:
    case 6:
    case 16:
    case 23:
      return "holding";
  }
  return undefined;
}

/**
 * The message of an exception response.
 *
 * @example
 * ```ts
 * import { describeException } from "./protocol.ts";
 * describeException(3, 2, 4200);
 * // "illegal data address at holding register 4200 (read holding registers, exception 02): check the register map: …"
 * ```
 */
export function describeException(fc: number, code: number, address?: number): string {
  const meaning = EXCEPTION_NAMES[code] ?? `unknown exception`;
  const table = tableOf(fc);
  const at = address !== undefined && table ? ` at ${describeAddress(table, address)}` : "";
  const fn = FUNCTION_NAMES[fc] ?? `function ${fc}`;
  const hint = EXCEPTION_HINTS[code];
  return `${meaning}${at} (${fn}, exception ${hex2(code)})${hint ? `: ${hint}` : ""}`;
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}

/** The first address a request is about (for exception messages). */
export function requestAddress(req: Request): number {
  return req.fc === 23 ? req.readAddress : req.address;
}

function checkAddress(address: number, count: number): void {
  if (!Number.isInteger(address) || address < 0 || address > 0xffff) {
    throw new RangeError(`address ${address} is not 0…65535`);
  }
  if (address + count - 1 > 0xffff) {
    throw new RangeError(`${count} items from address ${address} go past 65535`);
  }
}

function checkCount(count: number, max: number, what: string): void {
  if (!Number.isInteger(count) || count < 1 || count > max) {
    throw new RangeError(`${what}: count ${count} is not 1…${max}`);
  }
}

function checkWord(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new RangeError(`register value ${v} is not 0…65535`);
  }
}

/** Packs bits low bit first, 8 per byte (FC1, FC2, FC15). */
export function packBits(bits: readonly boolean[]): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

/** Unpacks `count` bits, low bit first. */
export function unpackBits(bytes: Uint8Array, count: number): boolean[] {
  const out: boolean[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = ((bytes[i >> 3]! >> (i & 7)) & 1) === 1;
  return out;
}

/**
 * Encodes a request PDU; a count or value outside the protocol's limits is a `RangeError`
 * (split requests before, see the driver). With `head`, the PDU starts after `head` bytes left
 * free for a framing header (Modbus TCP's MBAP): one array per request, not two.
 */
export function encodeRequest(req: Request, head = 0): Uint8Array {
  switch (req.fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      const bits = req.fc <= 2;
      checkCount(req.count, bits ? LIMITS.readBits : LIMITS.readRegisters, FUNCTION_NAMES[req.fc]!);
      checkAddress(req.address, req.count);
      return fixed(head, req.fc, req.address, req.count);
    }
    case 5:
      checkAddress(req.address, 1);
      return fixed(head, 5, req.address, req.value ? 0xff00 : 0);
    case 6:
      checkAddress(req.address, 1);
      checkWord(req.value);
      return fixed(head, 6, req.address, req.value);
    case 15: {
      const n = req.values.length;
      checkCount(n, LIMITS.writeBits, "write multiple coils");
      checkAddress(req.address, n);
      const packed = packBits(req.values);
      const out = new Uint8Array(head + 6 + packed.length);
      out.set([15, req.address >> 8, req.address & 0xff, n >> 8, n & 0xff, packed.length], head);
      out.set(packed, head + 6);
      return out;
    }
    case 16: {
      const n = req.values.length;
      checkCount(n, LIMITS.writeRegisters, "write multiple registers");
      checkAddress(req.address, n);
      const out = new Uint8Array(head + 6 + 2 * n);
      out.set([16, req.address >> 8, req.address & 0xff, n >> 8, n & 0xff, 2 * n], head);
      putWords(out, head + 6, req.values);
      return out;
    }
    case 23: {
      const n = req.values.length;
      checkCount(req.readCount, LIMITS.readWriteRead, "read/write multiple registers (read)");
      checkCount(n, LIMITS.readWriteWrite, "read/write multiple registers (write)");
      checkAddress(req.readAddress, req.readCount);
      checkAddress(req.writeAddress, n);
      const out = new Uint8Array(head + 10 + 2 * n);
      out.set([
        23,
        req.readAddress >> 8,
        req.readAddress & 0xff,
        req.readCount >> 8,
        req.readCount & 0xff,
        req.writeAddress >> 8,
        req.writeAddress & 0xff,
        n >> 8,
        n & 0xff,
        2 * n,
      ], head);
      putWords(out, head + 10, req.values);
      return out;
    }
  }
}

/** A 5-byte PDU (function code and two words) after `head` free bytes. */
function fixed(head: number, fc: number, a: number, b: number): Uint8Array {
  const out = new Uint8Array(head + 5);
  out[head] = fc;
  out[head + 1] = a >> 8;
  out[head + 2] = a & 0xff;
  out[head + 3] = b >> 8;
  out[head + 4] = b & 0xff;
  return out;
}

function u8(...bytes: number[]): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! & 0xff;
  return out;
}

function putWords(out: Uint8Array, off: number, words: readonly number[]): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    checkWord(w);
    out[off + 2 * i] = w >> 8;
    out[off + 2 * i + 1] = w & 0xff;
  }
}

/** `n` big-endian words from `off`, into `out` when given (a caller's reused array of `n`). */
function getWords(pdu: Uint8Array, off: number, n: number, out: number[] = new Array(n)): number[] {
  for (let i = 0; i < n; i++) out[i] = (pdu[off + 2 * i]! << 8) | pdu[off + 2 * i + 1]!;
  return out;
}

/** The big-endian 16-bit word at `off`. */
export function word(pdu: Uint8Array, off: number): number {
  return (pdu[off]! << 8) | pdu[off + 1]!;
}

/**
 * A request the server side could not decode: the exception code to answer with (01 for an
 * unknown function, 03 for a bad count or length).
 */
export interface BadRequest {
  /** The function code received. */
  fc: number;
  /** Exception code to answer. */
  exception: number;
}

/** Decodes a request PDU on the server side; an unusable one gives the exception to answer. */
export function decodeRequest(pdu: Uint8Array): Request | BadRequest {
  const fc = pdu[0] ?? 0;
  const bad = (exception: number): BadRequest => ({ fc, exception });
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (pdu.length !== 5) return bad(3);
      const count = word(pdu, 3);
      const max = fc <= 2 ? LIMITS.readBits : LIMITS.readRegisters;
      if (count < 1 || count > max) return bad(3);
      const address = word(pdu, 1);
      if (address + count > 0x10000) return bad(2);
      return { fc, address, count };
    }
    case 5: {
      if (pdu.length !== 5) return bad(3);
      const v = word(pdu, 3);
      if (v !== 0xff00 && v !== 0) return bad(3);
      return { fc, address: word(pdu, 1), value: v === 0xff00 };
    }
    case 6:
      if (pdu.length !== 5) return bad(3);
      return { fc, address: word(pdu, 1), value: word(pdu, 3) };
    case 15: {
      if (pdu.length < 7) return bad(3);
      const count = word(pdu, 3);
      const bytes = pdu[5]!;
      if (count < 1 || count > LIMITS.writeBits || bytes !== Math.ceil(count / 8)) return bad(3);
      if (pdu.length !== 6 + bytes) return bad(3);
      const address = word(pdu, 1);
      if (address + count > 0x10000) return bad(2);
      return { fc, address, values: unpackBits(pdu.subarray(6), count) };
    }
    case 16: {
      if (pdu.length < 8) return bad(3);
      const count = word(pdu, 3);
      const bytes = pdu[5]!;
      if (count < 1 || count > LIMITS.writeRegisters || bytes !== 2 * count) return bad(3);
      if (pdu.length !== 6 + bytes) return bad(3);
      const address = word(pdu, 1);
      if (address + count > 0x10000) return bad(2);
      return { fc, address, values: getWords(pdu, 6, count) };
    }
    case 23: {
      if (pdu.length < 12) return bad(3);
      const readCount = word(pdu, 3);
      const n = word(pdu, 7);
      const bytes = pdu[9]!;
      if (readCount < 1 || readCount > LIMITS.readWriteRead) return bad(3);
      if (n < 1 || n > LIMITS.readWriteWrite || bytes !== 2 * n) return bad(3);
      if (pdu.length !== 10 + bytes) return bad(3);
      const readAddress = word(pdu, 1);
      const writeAddress = word(pdu, 5);
      if (readAddress + readCount > 0x10000 || writeAddress + n > 0x10000) return bad(2);
      return { fc, readAddress, readCount, writeAddress, values: getWords(pdu, 10, n) };
    }
    default:
      return bad(1);
  }
}

/** True when `r` is a request the server could not decode. */
export function isBadRequest(r: Request | BadRequest): r is BadRequest {
  return "exception" in r;
}

/** Encodes a response PDU (server side). */
export function encodeResponse(res: Response): Uint8Array {
  switch (res.fc) {
    case 1:
    case 2: {
      const packed = packBits(res.bits);
      const out = new Uint8Array(2 + packed.length);
      out[0] = res.fc;
      out[1] = packed.length;
      out.set(packed, 2);
      return out;
    }
    case 3:
    case 4:
    case 23: {
      const out = new Uint8Array(2 + 2 * res.registers.length);
      out[0] = res.fc;
      out[1] = 2 * res.registers.length;
      putWords(out, 2, res.registers);
      return out;
    }
    case 5:
      return u8(5, res.address >> 8, res.address, res.value ? 0xff : 0, 0);
    case 6:
      return u8(6, res.address >> 8, res.address, res.value >> 8, res.value);
    case 15:
    case 16:
      return u8(res.fc, res.address >> 8, res.address, res.count >> 8, res.count);
  }
}

/** Encodes an exception response PDU: the function code with its high bit set, then the code. */
export function encodeException(fc: number, code: number): Uint8Array {
  return u8(fc | 0x80, code);
}

/**
 * Decodes the response PDU to `req`; an exception response is thrown as a
 * {@linkcode ModbusException}, a malformed one or one that does not answer `req` as a
 * {@linkcode ModbusFrameError}.
 */
export function decodeResponse(pdu: Uint8Array, req: Request, device?: string): Response {
  const malformed = (why: string): never => throwMalformed(pdu, 0, req.fc, why, device);
  checkAnswer(pdu, 0, pdu.length, req.fc, requestAddress(req), device);
  switch (req.fc) {
    case 1:
    case 2: {
      const bytes = pdu[1];
      const want = Math.ceil(req.count / 8);
      if (bytes !== want || pdu.length !== 2 + want) {
        malformed(`expected ${want} data bytes for ${req.count} bits`);
      }
      return { fc: req.fc, bits: unpackBits(pdu.subarray(2), req.count) };
    }
    case 3:
    case 4:
    case 23: {
      const n = req.fc === 23 ? req.readCount : req.count;
      return { fc: req.fc, registers: registersAt(pdu, 0, pdu.length, req.fc, n, device) };
    }
    case 5:
    case 6: {
      if (pdu.length !== 5) malformed(`expected 5 bytes, got ${pdu.length}`);
      const address = word(pdu, 1);
      const v = word(pdu, 3);
      const echo = req.fc === 5 ? (req.value ? 0xff00 : 0) : req.value;
      if (address !== req.address || v !== echo) malformed("the echo differs from the request");
      return req.fc === 5 ? { fc: 5, address, value: v === 0xff00 } : { fc: 6, address, value: v };
    }
    case 15:
    case 16: {
      if (pdu.length !== 5) malformed(`expected 5 bytes, got ${pdu.length}`);
      const address = word(pdu, 1);
      const count = word(pdu, 3);
      if (address !== req.address || count !== req.values.length) {
        malformed("address or count differ from the request");
      }
      return { fc: req.fc, address, count };
    }
  }
}

/**
 * The registers of the answer to a register read (FC3, FC4) of `count` registers at `address`,
 * whose PDU is `bytes[at…end)` (a whole Modbus TCP frame: `at` 7; `end` by default the end of
 * `bytes`, or where the frame ends in a receive buffer): decoded in place, with what
 * {@linkcode decodeResponse} would throw for an exception or a malformed answer. With `into`
 * (an array of `count`), the registers are written there rather than into a new array.
 *
 * @example
 * ```ts
 * import { decodeReadRegisters } from "./protocol.ts";
 * decodeReadRegisters(new Uint8Array([3, 4, 0, 0x65, 0, 0x66]), 0, 3, 0, 2); // [101, 102]
 * ```
 */
export function decodeReadRegisters(
  bytes: Uint8Array,
  at: number,
  fc: 3 | 4,
  address: number,
  count: number,
  device?: string,
  end: number = bytes.length,
  into?: number[],
): number[] {
  // The answer expected, read here: every poll's read comes through, cold (interpreted) for
  // its first hundreds, when a call costs more than the check it makes.
  if (bytes[at] === fc && bytes[at + 1] === 2 * count && end - at === 2 + 2 * count) {
    const out = into ?? new Array<number>(count);
    for (let i = 0, p = at + 2; i < count; i++, p += 2) out[i] = (bytes[p]! << 8) | bytes[p + 1]!;
    return out;
  }
  // Anything else says what is wrong with it.
  checkAnswer(bytes, at, end, fc, address, device);
  return registersAt(bytes, at, end, fc, count, device, into);
}

/** Throws what an answer (its PDU at `at`) says when it is an exception or another function's. */
function checkAnswer(
  bytes: Uint8Array,
  at: number,
  end: number,
  fc: number,
  address: number,
  device: string | undefined,
): void {
  const got = at < end ? bytes[at] : undefined;
  if (got === fc) return;
  bytes = bytes.subarray(0, end);
  if (got === undefined) throwMalformed(bytes, at, fc, "empty", device);
  if (got === (fc | 0x80)) {
    const length = end - at;
    if (length !== 2) {
      throwMalformed(bytes, at, fc, `an exception response is 2 bytes, got ${length}`, device);
    }
    throw new ModbusException(fc, bytes[at + 1]!, address, device);
  }
  throwMalformed(bytes, at, fc, `function code ${got}, expected ${fc}`, device);
}

/** The `n` registers of a register answer whose PDU is `bytes[at…end)`, its byte count checked. */
function registersAt(
  bytes: Uint8Array,
  at: number,
  end: number,
  fc: number,
  n: number,
  device: string | undefined,
  into?: number[],
): number[] {
  if (bytes[at + 1] !== 2 * n || end - at !== 2 + 2 * n) {
    const why = `expected ${2 * n} data bytes for ${n} registers`;
    throwMalformed(bytes.subarray(0, end), at, fc, why, device);
  }
  return getWords(bytes, at + 2, n, into);
}

function throwMalformed(
  bytes: Uint8Array,
  at: number,
  fc: number,
  why: string,
  device: string | undefined,
): never {
  throw new ModbusFrameError(
    `malformed answer to ${FUNCTION_NAMES[fc]}: ${why} (${hexBytes(bytes.subarray(at))})`,
    device,
  );
}

/** Bytes as hex pairs, for messages (cut at 32 bytes). */
export function hexBytes(bytes: Uint8Array): string {
  const shown = Array.from(bytes.subarray(0, 32), (b) => b.toString(16).padStart(2, "0"));
  return shown.join(" ") + (bytes.length > 32 ? " …" : "");
}
