/**
 * Register maps, sans I/O: what a register attribute is (table, 0-based address, data type,
 * word order, scale/offset, enum map), how its registers become a value and back, the manual
 * notation of addresses ("40001" is holding register 0), and the read plan of one poll —
 * adjacent registers coalesced into as few requests as the protocol limits allow.
 *
 * @example
 * ```ts
 * import { decodeRegisters, encodeRegisters, parseRegisterNumber } from "./registers.ts";
 * parseRegisterNumber(40001); // { table: "holding", address: 0 }
 * const spec = { table: "holding", address: 0, type: "float32", order: "CDAB", scale: 1, offset: 0 } as const;
 * encodeRegisters(spec, 1.5); // [0x0000, 0x3fc0]
 * decodeRegisters(spec, [0x0000, 0x3fc0], 0); // 1.5
 * ```
 *
 * @module
 */
import { LIMITS } from "./protocol.ts";
import {
  type DataType,
  isBitTable,
  type RegisterSpec,
  type Table,
  widthOf,
  type WordOrder,
} from "../../instruments/registers.ts";

export {
  DATA_TYPES,
  type DataType,
  isBitTable,
  parseRegisterNumber,
  type RegisterSpec,
  widthOf,
  WORD_ORDERS,
  type WordOrder,
} from "../../instruments/registers.ts";

/** Raw integer bounds of the integer types (what a register can carry). */
export const RAW_RANGE: Partial<Record<DataType, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

/** Orders `words` (most significant first) as `order` puts them on the wire. */
function toWire(words: number[], order: WordOrder): number[] {
  const swapBytes = order === "BADC" || order === "DCBA";
  const reverse = order === "CDAB" || order === "DCBA";
  let out = swapBytes ? words.map((w) => ((w & 0xff) << 8) | (w >> 8)) : words;
  if (reverse) out = [...out].reverse();
  return out;
}

/** The inverse of {@linkcode toWire} (the permutation is its own inverse). */
function fromWire(words: number[], order: WordOrder): number[] {
  return toWire(words, order);
}

const scratch = new DataView(new ArrayBuffer(8));

function bigEndianWords(n: number): number[] {
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = scratch.getUint16(2 * i);
  return out;
}

/**
 * Puts the `n` wire-order words of `regs` at `off` into `scratch`, most significant first: the
 * in-place form of {@linkcode fromWire} (same permutation, no arrays).
 */
function loadWire(regs: ArrayLike<number>, off: number, n: number, order: WordOrder): void {
  const swapBytes = order === "BADC" || order === "DCBA";
  const reverse = order === "CDAB" || order === "DCBA";
  for (let i = 0; i < n; i++) {
    const w = regs[off + (reverse ? n - 1 - i : i)]!;
    scratch.setUint16(2 * i, swapBytes ? ((w & 0xff) << 8) | (w >> 8) : w);
  }
}

/** The raw (unscaled) number or text of `spec` in `regs` at `off`. */
export function decodeRaw(
  spec: RegisterSpec,
  regs: ArrayLike<number>,
  off: number,
): number | string {
  // Read in place: a poll decodes every attribute of every reading, so no array per attribute.
  const first = regs[off]!;
  switch (spec.type) {
    case "uint16":
      return first;
    case "int16":
      return first >= 0x8000 ? first - 0x10000 : first;
    case "bit":
      return (first >> (spec.bit ?? 0)) & 1;
    case "bool":
      return first ? 1 : 0;
    case "string": {
      const n = widthOf(spec);
      const words: number[] = new Array(n);
      for (let i = 0; i < n; i++) words[i] = regs[off + i]!;
      const w = fromWire(words, spec.order === "BADC" || spec.order === "DCBA" ? "BADC" : "ABCD");
      let s = "";
      for (const x of w) s += String.fromCharCode(x >> 8, x & 0xff);
      return s.replace(/[\0 ]+$/, "");
    }
  }
  loadWire(regs, off, widthOf(spec), spec.order);
  switch (spec.type) {
    case "int32":
      return scratch.getInt32(0);
    case "uint32":
      return scratch.getUint32(0);
    case "float32":
      return scratch.getFloat32(0);
    case "float64":
      return scratch.getFloat64(0);
  }
}

/** The value of `spec` in `regs` at `off`: raw, scaled, mapped. */
export function decodeRegisters(
  spec: RegisterSpec,
  regs: ArrayLike<number>,
  off: number,
): number | string | boolean {
  const type = spec.type;
  // A 16-bit number (most registers) in one step: every attribute of every poll comes here.
  if ((type === "uint16" || type === "int16") && !spec.map) {
    const w = regs[off]!;
    return scaled(spec, type === "int16" && w >= 0x8000 ? w - 0x10000 : w);
  }
  return rawToValue(spec, decodeRaw(spec, regs, off));
}

/** A raw number (or bit) → the attribute's value: mapped, boolean, or scaled. */
export function rawToValue(spec: RegisterSpec, raw: number | string): number | string | boolean {
  if (typeof raw === "string") return raw;
  if (spec.map) {
    const v = spec.map[String(raw)];
    return v === undefined ? `unknown (${raw})` : v;
  }
  if (spec.type === "bool" || spec.type === "bit") return raw !== 0;
  return scaled(spec, raw);
}

/** A raw number scaled and offset as the register says. */
function scaled(spec: RegisterSpec, raw: number): number {
  if (spec.scale === 1 && spec.offset === 0) return raw;
  // Scaling by 0.1 gives 25.000000000000004; keep what the register's resolution can say.
  return Number((raw * spec.scale + spec.offset).toPrecision(12));
}

/** Why a value cannot be written: thrown by {@linkcode encodeRegisters}. */
export class EncodeError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

/** A value → the raw number to store (map inverted, offset and scale undone, rounded for integers). */
export function valueToRaw(spec: RegisterSpec, value: number | string | boolean): number | string {
  if (spec.map) {
    const hit = Object.entries(spec.map).find(([, v]) => v === value);
    if (!hit) {
      throw new EncodeError(
        `${JSON.stringify(value)} is not one of ${
          Object.values(spec.map).map((v) => JSON.stringify(v)).join(", ")
        }`,
      );
    }
    return Number(hit[0]);
  }
  if (spec.type === "string") return String(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new EncodeError(`${JSON.stringify(value)} is not a number`);
  }
  if (spec.type === "bool" || spec.type === "bit") return value ? 1 : 0;
  const raw = (value - spec.offset) / spec.scale;
  if (spec.type === "float32" || spec.type === "float64") return raw;
  const r = Math.round(raw);
  const range = RAW_RANGE[spec.type]!;
  if (r < range[0] || r > range[1]) {
    throw new EncodeError(
      `${value} needs the raw value ${r}, outside ${spec.type}'s ${range[0]}…${range[1]}`,
    );
  }
  return r;
}

/** The registers that hold `value` (for `bit`, the bit's mask in the one register: see the driver). */
export function encodeRegisters(spec: RegisterSpec, value: number | string | boolean): number[] {
  const raw = valueToRaw(spec, value);
  return rawToRegisters(spec, raw);
}

/** A raw number or text → registers in the spec's word order. */
export function rawToRegisters(spec: RegisterSpec, raw: number | string): number[] {
  switch (spec.type) {
    case "uint16":
    case "int16":
      return [(raw as number) & 0xffff];
    case "bool":
      return [raw ? 1 : 0];
    case "bit":
      return [raw ? 1 << (spec.bit ?? 0) : 0];
    case "string": {
      const n = widthOf(spec);
      const text = String(raw);
      if (text.length > 2 * n) {
        throw new EncodeError(`"${text}" is longer than ${2 * n} characters`);
      }
      const words: number[] = [];
      for (let i = 0; i < n; i++) {
        const hi = text.charCodeAt(2 * i) || 0;
        const lo = text.charCodeAt(2 * i + 1) || 0;
        if (hi > 0xff || lo > 0xff) throw new EncodeError(`"${text}" is not latin1 text`);
        words.push((hi << 8) | lo);
      }
      return toWire(words, spec.order === "BADC" || spec.order === "DCBA" ? "BADC" : "ABCD");
    }
  }
  const r = raw as number;
  switch (spec.type) {
    case "int32":
      scratch.setInt32(0, r);
      break;
    case "uint32":
      scratch.setUint32(0, r);
      break;
    case "float32":
      scratch.setFloat32(0, r);
      break;
    case "float64":
      scratch.setFloat64(0, r);
      break;
  }
  return toWire(bigEndianWords(widthOf(spec)), spec.order);
}

/** One item of a poll: a spec and who wants its value. */
export interface PlanItem<K> {
  /** The caller's key (an attribute name). */
  key: K;
  /** Where it is. */
  spec: RegisterSpec;
}

/** A contiguous range read in one or more requests (split at the protocol limit). */
export interface PlanBlock<K> {
  /** Table. */
  table: Table;
  /** First address. */
  address: number;
  /** Registers or bits. */
  count: number;
  /** Requests: [address, count] each within the limit. */
  requests: [number, number][];
  /** The items decoded from the block, with their offset in it. */
  items: { key: K; spec: RegisterSpec; offset: number }[];
}

/** Options of {@linkcode planReads}. */
export interface PlanOptions {
  /** Largest register read per request (default 125; gateways may need less). */
  maxRegisters?: number;
  /** Largest bit read per request (default 2000). */
  maxBits?: number;
  /** Unused registers a read may span to join two ranges (default 0: only adjacent ones). */
  maxGap?: number;
}

/**
 * Plans the reads of one poll: items sorted by table and address, adjacent (or, with `maxGap`,
 * nearby) ranges joined into blocks, each block read in requests of at most the limit.
 *
 * @example
 * ```ts
 * import { planReads } from "./registers.ts";
 * const s = (address: number) => ({ table: "holding", address, type: "uint16", order: "ABCD", scale: 1, offset: 0 }) as const;
 * planReads([{ key: "a", spec: s(1) }, { key: "b", spec: s(0) }]).map((b) => b.requests); // [[[0, 2]]]
 * ```
 */
export function planReads<K>(items: PlanItem<K>[], opts: PlanOptions = {}): PlanBlock<K>[] {
  const maxGap = opts.maxGap ?? 0;
  const sorted = [...items].sort((a, b) =>
    a.spec.table === b.spec.table
      ? a.spec.address - b.spec.address
      : a.spec.table < b.spec.table
      ? -1
      : 1
  );
  const blocks: PlanBlock<K>[] = [];
  let cur: PlanBlock<K> | undefined;
  for (const it of sorted) {
    const start = it.spec.address;
    const end = start + widthOf(it.spec);
    if (cur && cur.table === it.spec.table && start <= cur.address + cur.count + maxGap) {
      cur.count = Math.max(cur.count, end - cur.address);
    } else {
      cur = { table: it.spec.table, address: start, count: end - start, requests: [], items: [] };
      blocks.push(cur);
    }
    cur.items.push({ key: it.key, spec: it.spec, offset: start - cur.address });
  }
  for (const b of blocks) {
    const max = isBitTable(b.table)
      ? Math.min(opts.maxBits ?? LIMITS.readBits, LIMITS.readBits)
      : Math.min(opts.maxRegisters ?? LIMITS.readRegisters, LIMITS.readRegisters);
    for (let a = b.address; a < b.address + b.count; a += max) {
      b.requests.push([a, Math.min(max, b.address + b.count - a)]);
    }
  }
  return blocks;
}
