/**
 * Raw Modbus requests as `labwire query` takes them, one per argument:
 *
 *   read TABLE ADDRESS [COUNT]          registers (or bits) as they are: [225,250]
 *   read TABLE ADDRESS TYPE [ORDER]     one value decoded: read holding 360 float32 CDAB → 70.5
 *   write TABLE ADDRESS VALUE…          FC6/FC16 (holding) or FC5/FC15 (coil): 250, 0x1234, true
 *
 * TABLE is coil, discrete, input or holding (plurals too); ADDRESS is the 0-based PDU address.
 *
 * @example
 * ```ts
 * import { parseRawRequest } from "./raw.ts";
 * parseRawRequest("read holding 4096 2"); // { op: "read", table: "holding", address: 4096, count: 2 }
 * ```
 *
 * @module
 */
import { UsageError } from "../../device/errors.ts";
import type { ModbusCallOptions, ModbusClient } from "./client.ts";
import { LIMITS, type Table, TABLES } from "./protocol.ts";
import {
  DATA_TYPES,
  type DataType,
  decodeRegisters,
  isBitTable,
  widthOf,
  WORD_ORDERS,
  type WordOrder,
} from "./registers.ts";

/** One parsed raw request. */
export type RawRequest =
  | { op: "read"; table: Table; address: number; count: number }
  | { op: "read"; table: Table; address: number; type: DataType; order: WordOrder }
  | { op: "write"; table: Table; address: number; values: number[] | boolean[] };

const SYNTAX = "read TABLE ADDRESS [COUNT], read TABLE ADDRESS TYPE [ORDER], " +
  "or write TABLE ADDRESS VALUE…; e.g. read holding 4096 2, write holding 4097 250";

function integer(text: string, what: string, min: number, max: number): number {
  const n = /^0x[0-9a-f]+$/i.test(text)
    ? parseInt(text, 16)
    : /^-?\d+$/.test(text)
    ? Number(text)
    : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`"${text}" is not ${what} (${min}…${max})`, SYNTAX);
  }
  return n;
}

function table(text: string | undefined): Table {
  const t = (text ?? "").toLowerCase().replace(/s$/, "");
  const found = TABLES.find((x) => x === t || (t === "register" && x === "holding"));
  if (!found) {
    throw new UsageError(
      `"${text ?? ""}" is not a table: coil, discrete, input or holding`,
      SYNTAX,
    );
  }
  return found;
}

/** Parses one raw request; a mistake is a {@linkcode UsageError} showing the syntax. */
export function parseRawRequest(text: string): RawRequest {
  const [op, t, a, ...rest] = text.trim().split(/\s+/);
  const verb = (op ?? "").toLowerCase();
  if (verb !== "read" && verb !== "write") {
    throw new UsageError(`"${text}" is not a Modbus request`, SYNTAX);
  }
  const tbl = table(t);
  if (a === undefined) throw new UsageError(`"${text}": which address?`, SYNTAX);
  const address = integer(a, "an address", 0, 65535);
  if (verb === "read") {
    const type = rest[0]?.toLowerCase();
    if (type !== undefined && (DATA_TYPES as readonly string[]).includes(type)) {
      if (type === "string" || type === "bit" || isBitTable(tbl)) {
        throw new UsageError(`"${text}": read ${type} values with a COUNT of registers`, SYNTAX);
      }
      const order = (rest[1] ?? "ABCD").toUpperCase();
      if (!(WORD_ORDERS as readonly string[]).includes(order)) {
        throw new UsageError(`"${rest[1]}" is not a word order: ${WORD_ORDERS.join(", ")}`);
      }
      return { op: "read", table: tbl, address, type: type as DataType, order: order as WordOrder };
    }
    if (rest.length > 1) throw new UsageError(`"${text}": too many words`, SYNTAX);
    const count = rest[0] === undefined ? 1 : integer(rest[0], "a count", 1, 65536 - address);
    return { op: "read", table: tbl, address, count };
  }
  if (tbl === "input" || tbl === "discrete") {
    throw new UsageError(
      `"${text}": ${tbl} ${tbl === "input" ? "registers" : "inputs"} are read-only`,
    );
  }
  const words = rest.flatMap((w) => w.split(",")).filter((w) => w !== "");
  if (words.length === 0) throw new UsageError(`"${text}": which value?`, SYNTAX);
  if (tbl === "coil") {
    const values = words.map((w) => {
      const v = w.toLowerCase();
      if (["1", "true", "on"].includes(v)) return true;
      if (["0", "false", "off"].includes(v)) return false;
      throw new UsageError(`"${w}" is not a coil value: true/false, on/off or 1/0`);
    });
    if (values.length > LIMITS.writeBits * 32) throw new UsageError(`"${text}": too many values`);
    return { op: "write", table: tbl, address, values };
  }
  // A negative number is an int16 (two's complement on the wire).
  const values = words.map((w) => integer(w, "a register value", -32768, 65535) & 0xffff);
  if (address + values.length > 65536) throw new UsageError(`"${text}": past address 65535`);
  return { op: "write", table: tbl, address, values };
}

/** Carries out a raw request; returns the line to print (JSON). */
export async function runRawRequest(
  client: ModbusClient,
  req: RawRequest,
  opts?: ModbusCallOptions,
): Promise<string> {
  if (req.op === "write") {
    if (req.table === "coil") {
      const v = req.values as boolean[];
      await client.writeCoils(req.address, v, v.length === 1 ? 5 : 15, opts);
    } else {
      const v = req.values as number[];
      await client.writeRegisters(req.address, v, v.length === 1 ? 6 : 16, opts);
    }
    return "ok";
  }
  if ("type" in req) {
    const spec = {
      table: req.table,
      address: req.address,
      type: req.type,
      order: req.order,
      scale: 1,
      offset: 0,
    };
    const regs = await client.read(req.table, req.address, widthOf(spec), opts);
    return JSON.stringify(decodeRegisters(spec, regs, 0));
  }
  const values = await client.read(req.table, req.address, req.count, opts);
  return JSON.stringify(isBitTable(req.table) ? values.map((v) => v !== 0) : values);
}
