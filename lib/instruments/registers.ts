/**
 * The Modbus register vocabulary of instrument definitions: the four data tables, the data
 * types and word orders a register attribute can have, how many registers each takes, and the
 * manuals' 1-based register numbers (`40001`). Facts only (no compiling, no wire encoding), so
 * the definition schema, the register map compiler and the family's codec all take them from
 * here.
 *
 * Addresses: `address` is the 0-based PDU address that goes on the wire; `register` is the
 * manual's 1-based number with its table digit (`40001` is holding register 0, `30001` input
 * register 0, `10001` discrete input 0, `1` coil 0; six digits `400001` work too).
 *
 * @module
 */

/** The four data tables of a Modbus server. */
export const TABLES = ["coil", "discrete", "input", "holding"] as const;

/** One data table: coils and discrete inputs hold bits, input and holding registers 16-bit words. */
export type Table = (typeof TABLES)[number];

/** How an address is named in messages: "holding register 4200", "coil 7". */
export function describeAddress(table: Table, address: number): string {
  switch (table) {
    case "coil":
      return `coil ${address}`;
    case "discrete":
      return `discrete input ${address}`;
    case "input":
      return `input register ${address}`;
    case "holding":
      return `holding register ${address}`;
  }
}

/** Data types a register attribute can have. */
export const DATA_TYPES = [
  "bool",
  "bit",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "float32",
  "float64",
  "string",
] as const;

/** One data type. */
export type DataType = (typeof DATA_TYPES)[number];

/** Orders of the bytes of a multi-register value: A is the most significant byte. */
export const WORD_ORDERS = ["ABCD", "CDAB", "BADC", "DCBA"] as const;

/** One word order. */
export type WordOrder = (typeof WORD_ORDERS)[number];

/** Where a value lives and how it is encoded. */
export interface RegisterSpec {
  /** The data table. */
  table: Table;
  /** 0-based PDU address of the first register (or bit). */
  address: number;
  /** Data type. */
  type: DataType;
  /** Byte order of multi-register values and strings. */
  order: WordOrder;
  /** Engineering value = raw × scale + offset. */
  scale: number;
  /** See scale. */
  offset: number;
  /** Bit index (0 = least significant) for `bit`. */
  bit?: number;
  /** Registers of a `string` (2 characters each). */
  length?: number;
  /** Raw integer → enum option (or boolean). */
  map?: Record<string, string | boolean | number>;
}

/** Registers (or bits) a spec occupies. */
export function widthOf(spec: Pick<RegisterSpec, "type" | "length">): number {
  switch (spec.type) {
    case "int32":
    case "uint32":
    case "float32":
      return 2;
    case "float64":
      return 4;
    case "string":
      return spec.length ?? 1;
    default:
      return 1;
  }
}

/** True for the bit tables (coils, discrete inputs). */
export function isBitTable(table: Table): boolean {
  return table === "coil" || table === "discrete";
}

/**
 * Reads the manual notation of an address: 5 digits (`40001` = holding register 0, `30001`
 * input 0, `10001` discrete 0, `00001`/`1` coil 0) or 6 digits (`400001`…`465536`). Undefined
 * when `n` is not such a number.
 *
 * @example
 * ```ts
 * import { parseRegisterNumber } from "./registers.ts";
 * parseRegisterNumber(44097); // { table: "holding", address: 4096 }
 * ```
 */
export function parseRegisterNumber(n: number): { table: Table; address: number } | undefined {
  if (!Number.isInteger(n) || n < 1) return undefined;
  const tables: Record<number, Table> = { 0: "coil", 1: "discrete", 3: "input", 4: "holding" };
  if (n <= 99999) {
    const t = tables[Math.floor(n / 10000)];
    const a = (n % 10000) - 1;
    return t && a >= 0 ? { table: t, address: a } : undefined;
  }
  if (n <= 465536) {
    const t = tables[Math.floor(n / 100000)];
    const a = (n % 100000) - 1;
    return t && a >= 0 && a <= 0xffff ? { table: t, address: a } : undefined;
  }
  return undefined;
}
