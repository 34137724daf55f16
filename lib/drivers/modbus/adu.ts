/**
 * The two framings of a Modbus PDU, sans I/O: Modbus TCP's MBAP header (transaction, protocol
 * id, length, unit) and Modbus RTU's unit address + PDU + CRC-16, with the lengths a reader needs
 * to find where an RTU frame ends and the line's silent intervals. The PDUs themselves are
 * `protocol.ts`'s. Facts: `shared/protocols/modbus.md`. Tested byte for byte.
 *
 * @module
 */
import {
  encodeRequest,
  hexBytes,
  LIMITS,
  ModbusFrameError,
  type Request,
  word,
} from "./protocol.ts";

/** Length of the MBAP header (transaction id, protocol id, length, unit id). */
export const MBAP_LENGTH = 7;

/** Wraps a PDU in an MBAP header. */
export function encodeMbap(transaction: number, unit: number, pdu: Uint8Array): Uint8Array {
  const out = new Uint8Array(MBAP_LENGTH + pdu.length);
  out.set(pdu, MBAP_LENGTH);
  putMbap(out, transaction, unit);
  return out;
}

/**
 * A request with its MBAP header, encoded in one array (what a Modbus TCP client sends).
 *
 * @example
 * ```ts
 * import { encodeMbapRequest } from "./adu.ts";
 * encodeMbapRequest(1, 1, { fc: 3, address: 0, count: 3 }); // 00 01 00 00 00 06 01 03 00 00 00 03
 * ```
 */
export function encodeMbapRequest(transaction: number, unit: number, req: Request): Uint8Array {
  const out = encodeRequest(req, MBAP_LENGTH);
  putMbap(out, transaction, unit);
  return out;
}

/** Fills the MBAP header of `out`, whose PDU is already in place after it. */
function putMbap(out: Uint8Array, transaction: number, unit: number): void {
  out[0] = (transaction >> 8) & 0xff;
  out[1] = transaction & 0xff;
  // Protocol id 0 (bytes 2 and 3 stay zero).
  const len = out.length - MBAP_LENGTH + 1;
  out[4] = len >> 8;
  out[5] = len & 0xff;
  out[6] = unit & 0xff;
}

/** A decoded MBAP header. */
export interface MbapHeader {
  /** Transaction id. */
  transaction: number;
  /** Protocol id (0 for Modbus). */
  protocol: number;
  /** Bytes after the length field: unit id + PDU. */
  length: number;
  /** Unit id. */
  unit: number;
}

/**
 * Reads the MBAP header at the start of `buf`; a protocol id other than 0 or a length outside
 * 2…254 is a {@linkcode ModbusFrameError} (the stream cannot be resynchronised).
 */
export function decodeMbap(buf: Uint8Array, device?: string): MbapHeader {
  const length = mbapLength(buf, device);
  return { transaction: word(buf, 0), protocol: 0, length, unit: buf[6]! };
}

/**
 * The length field of the MBAP header at the start of `buf` (unit id + PDU bytes), checked as
 * {@linkcode decodeMbap} does: a reader that frames answers in place needs no header object.
 */
export function mbapLength(buf: Uint8Array, device?: string): number {
  if (buf.length < MBAP_LENGTH) {
    throw new ModbusFrameError(`truncated MBAP header (${hexBytes(buf)})`, device);
  }
  const protocol = word(buf, 2);
  if (protocol !== 0) {
    throw new ModbusFrameError(
      `MBAP protocol id ${protocol}, not 0: this is not Modbus TCP (${hexBytes(buf)})`,
      device,
    );
  }
  const length = word(buf, 4);
  if (length < 2 || length > LIMITS.pdu + 1) {
    throw new ModbusFrameError(`MBAP length ${length} is not 2…254 (${hexBytes(buf)})`, device);
  }
  return length;
}

// ---------------------------------------------------------------------------------------------
// Modbus RTU: unit address, PDU, CRC-16

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/**
 * CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF); sent low byte first.
 *
 * @example
 * ```ts
 * import { crc16 } from "./protocol.ts";
 * crc16(new Uint8Array([0x01, 0x03, 0x00, 0x00, 0x00, 0x01])); // 0x0a84 (sent 84 0a)
 * ```
 */
export function crc16(bytes: Uint8Array, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** An RTU frame: unit address, PDU, CRC low byte first. */
export function encodeRtu(unit: number, pdu: Uint8Array): Uint8Array {
  const out = new Uint8Array(pdu.length + 3);
  out[0] = unit & 0xff;
  out.set(pdu, 1);
  const crc = crc16(out, pdu.length + 1);
  out[pdu.length + 1] = crc & 0xff;
  out[pdu.length + 2] = crc >> 8;
  return out;
}

/** Checks an RTU frame's CRC and splits it; a bad CRC or a short frame is a {@linkcode ModbusFrameError}. */
export function decodeRtu(frame: Uint8Array, device?: string): { unit: number; pdu: Uint8Array } {
  if (frame.length < 4) {
    throw new ModbusFrameError(`truncated RTU frame (${hexBytes(frame)})`, device);
  }
  const n = frame.length;
  const got = frame[n - 2]! | (frame[n - 1]! << 8);
  const want = crc16(frame, n - 2);
  if (got !== want) {
    throw new ModbusFrameError(
      `CRC error: frame ${hexBytes(frame)} carries ${got.toString(16).padStart(4, "0")}, ` +
        `its bytes give ${want.toString(16).padStart(4, "0")} (noise on the line, or wrong ` +
        `baud rate or parity)`,
      device,
    );
  }
  return { unit: frame[0]!, pdu: frame.subarray(1, n - 2) };
}

/**
 * The total length of the RTU response frame that starts `buf` (unit, PDU, CRC), or undefined
 * when more bytes are needed to know it. The function code says: an exception is 5 bytes,
 * reads carry a byte count, writes echo 8 bytes.
 */
export function rtuResponseLength(buf: Uint8Array): number | undefined {
  if (buf.length < 2) return undefined;
  const fc = buf[1]!;
  if (fc & 0x80) return 5;
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 23:
      return buf.length < 3 ? undefined : 5 + buf[2]!;
    case 5:
    case 6:
    case 15:
    case 16:
      return 8;
    default:
      // An unknown function: no way to know; the reader waits for the inter-frame silence.
      return -1;
  }
}

/**
 * The total length of the RTU request frame that starts `buf`, undefined when more bytes are
 * needed, -1 for an unknown function code (the server waits for the silence that ends it).
 */
export function rtuRequestLength(buf: Uint8Array): number | undefined {
  if (buf.length < 2) return undefined;
  switch (buf[1]!) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
      return 8;
    case 15:
    case 16:
      return buf.length < 7 ? undefined : 9 + buf[6]!;
    case 23:
      return buf.length < 11 ? undefined : 13 + buf[10]!;
    default:
      return -1;
  }
}

/**
 * The silence that separates RTU frames at `baud`, ms: 3.5 character times of 11 bits, fixed at
 * 1.75 ms above 19,200 baud.
 *
 * @example
 * ```ts
 * import { rtuSilenceMs } from "./protocol.ts";
 * rtuSilenceMs(9600); // ≈ 4.01
 * ```
 */
export function rtuSilenceMs(baud: number): number {
  return baud > 19200 ? 1.75 : (3.5 * 11 * 1000) / baud;
}

/** Time to send `bytes` characters at `baud` (11 bits each), ms. */
export function rtuSendMs(bytes: number, baud: number): number {
  return (bytes * 11 * 1000) / baud;
}
