/**
 * The state machine of a simulated Modbus device, built from ANY register map: it keeps the
 * attributes' values (a write changes later reads), answers reads by encoding them into
 * registers (so word order, scale and maps are the definition's), answers an address no
 * attribute covers with exception 02 and a value outside an attribute's limits or map with 03,
 * lets a process value approach its set point (`sim.approach`), and adds noise to measured
 * values. Pure apart from its seeded random source and the clock it is given: PDUs in, PDUs out.
 *
 * @example
 * ```ts ignore
 * const m = new ModbusModel(await findInstrument("omega-cn7500"));
 * m.handle(encodeRequest({ fc: 3, address: 4096, count: 2 })); // 03 04 …
 * ```
 *
 * @module
 */
import { startValue } from "../sim/start_value.ts";
import type { Value } from "../../device/attr.ts";
import type { Instrument, InstrumentAttr } from "../../instruments/definition.ts";
import { Random } from "../sim/random.ts";
import {
  type BadRequest,
  decodeRequest,
  encodeException,
  encodeResponse,
  isBadRequest,
  type Request,
  type Response,
  type Table,
} from "./protocol.ts";
import {
  decodeRegisters,
  EncodeError,
  encodeRegisters,
  isBitTable,
  rawToValue,
  widthOf,
} from "./registers.ts";

/** Options of a simulated device. */
export interface ModbusModelOptions {
  /** Seed of the noise. */
  seed?: number;
  /** Clock in ms (tests pass their own); default `performance.now`. */
  now?: () => number;
}

/** A register attribute with its place in the model. */
interface Slot {
  a: InstrumentAttr;
  start: number;
  end: number;
}

/** A simulated Modbus device's state and request handler. */
export class ModbusModel {
  readonly #state = new Map<string, Value>();
  readonly #tables = new Map<Table, Slot[]>();
  readonly #random: Random;
  readonly #now: () => number;
  #last: number;
  /** Requests handled, for logs. */
  count = 0;

  /** Builds the simulator of `inst`. */
  constructor(readonly inst: Instrument, opts: ModbusModelOptions = {}) {
    this.#random = new Random(opts.seed ?? 1);
    this.#now = opts.now ?? (() => performance.now());
    this.#last = this.#now();
    for (const a of inst.attrs) {
      const r = a.register;
      if (!r) continue;
      const slots = this.#tables.get(r.table) ?? [];
      slots.push({ a, start: r.address, end: r.address + widthOf(r) });
      this.#tables.set(r.table, slots);
    }
    for (const slots of this.#tables.values()) slots.sort((x, y) => x.start - y.start);
    this.reset();
  }

  /** Returns every attribute to its initial value. */
  reset(): void {
    for (const a of this.inst.attrs) this.#state.set(a.attr.name, startValue(a));
    this.#last = this.#now();
  }

  /** The current state of an attribute (tests). */
  state(name: string): Value | undefined {
    this.#advance();
    return this.#state.get(name);
  }

  /** Handles one request PDU and returns the response PDU (an exception response when refused). */
  handle(pdu: Uint8Array): Uint8Array {
    this.count++;
    const req = decodeRequest(pdu);
    if (isBadRequest(req)) return encodeException(req.fc, req.exception);
    const r = this.#request(req);
    return "exception" in r ? encodeException(r.fc, r.exception) : encodeResponse(r);
  }

  #request(req: Request): Response | BadRequest {
    this.#advance();
    switch (req.fc) {
      case 1:
      case 2:
      case 3:
      case 4: {
        const table: Table =
          ({ 1: "coil", 2: "discrete", 3: "holding", 4: "input" } as const)[req.fc];
        const words = this.#read(table, req.address, req.count);
        if (!words) return { fc: req.fc, exception: 2 };
        return req.fc <= 2
          ? { fc: req.fc as 1 | 2, bits: words.map((w) => w !== 0) }
          : { fc: req.fc as 3 | 4, registers: words };
      }
      case 5: {
        const e = this.#write("coil", req.address, [req.value ? 1 : 0]);
        return e ? { fc: 5, exception: e } : { fc: 5, address: req.address, value: req.value };
      }
      case 6: {
        const e = this.#write("holding", req.address, [req.value]);
        return e ? { fc: 6, exception: e } : { fc: 6, address: req.address, value: req.value };
      }
      case 15: {
        const e = this.#write("coil", req.address, req.values.map((b) => b ? 1 : 0));
        return e
          ? { fc: 15, exception: e }
          : { fc: 15, address: req.address, count: req.values.length };
      }
      case 16: {
        const e = this.#write("holding", req.address, req.values);
        return e
          ? { fc: 16, exception: e }
          : { fc: 16, address: req.address, count: req.values.length };
      }
      case 23: {
        // The write happens before the read (the specification's order).
        const e = this.#write("holding", req.writeAddress, req.values);
        if (e) return { fc: 23, exception: e };
        const words = this.#read("holding", req.readAddress, req.readCount);
        return words ? { fc: 23, registers: words } : { fc: 23, exception: 2 };
      }
    }
  }

  /** The attributes overlapping [address, address+count) and whether every address is covered. */
  #slots(table: Table, address: number, count: number): Slot[] | undefined {
    const slots = this.#tables.get(table) ?? [];
    const end = address + count;
    const hit: Slot[] = [];
    let covered = address;
    for (const s of slots) {
      if (s.end <= address) continue;
      if (s.start >= end) break;
      if (s.start > covered) return undefined;
      hit.push(s);
      covered = Math.max(covered, s.end);
    }
    return covered >= end ? hit : undefined;
  }

  /** Registers (or bits as 0/1) of a range; undefined when an address is unmapped. */
  #read(table: Table, address: number, count: number): number[] | undefined {
    const slots = this.#slots(table, address, count);
    if (!slots) return undefined;
    const out = new Array<number>(count).fill(0);
    for (const s of slots) {
      const words = this.#words(s.a, this.#value(s.a));
      for (let i = 0; i < words.length; i++) {
        const at = s.start + i - address;
        if (at >= 0 && at < count) out[at] = out[at]! | words[i]!;
      }
    }
    return out;
  }

  #words(a: InstrumentAttr, v: Value): number[] {
    const r = a.register!;
    try {
      return encodeRegisters(r, v as number | string | boolean);
    } catch (err) {
      if (!(err instanceof EncodeError)) throw err;
      // A value the register cannot hold (noise past a limit): the register saturates.
      return encodeRegisters(r, 0);
    }
  }

  /** Writes a range; returns an exception code when refused (nothing is changed then). */
  #write(table: Table, address: number, words: number[]): number | undefined {
    const slots = this.#slots(table, address, words.length);
    if (!slots || slots.some((s) => !s.a.register!.write)) return 2;
    const next: [InstrumentAttr, Value][] = [];
    for (const s of slots) {
      const r = s.a.register!;
      const cur = this.#words(s.a, this.#state.get(s.a.attr.name) ?? null);
      for (let i = 0; i < cur.length; i++) {
        const at = s.start + i - address;
        if (at < 0 || at >= words.length) continue;
        if (r.type === "bit") {
          const mask = 1 << (r.bit ?? 0);
          cur[i] = words[at]! & mask;
        } else cur[i] = words[at]!;
      }
      const v = isBitTable(table) ? rawToValue(r, cur[0]! ? 1 : 0) : decodeRegisters(r, cur, 0);
      if (!this.#allowed(s.a, v)) return 3;
      next.push([s.a, v]);
    }
    for (const [a, v] of next) this.#state.set(a.attr.name, v);
    return undefined;
  }

  /** True when `v` is a value the attribute may take (its limits, its map). */
  #allowed(a: InstrumentAttr, v: Value): boolean {
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return false;
      if (a.attr.min !== undefined && v < a.attr.min) return false;
      if (a.attr.max !== undefined && v > a.attr.max) return false;
    }
    if (typeof v === "string" && a.register!.map) return !v.startsWith("unknown (");
    return true;
  }

  /** Moves every approaching value toward its target for the time passed. */
  #advance(): void {
    const now = this.#now();
    const dt = now - this.#last;
    if (dt <= 0) return;
    this.#last = now;
    for (const a of this.inst.attrs) {
      const ap = a.register?.approach;
      if (!ap) continue;
      const target = this.#state.get(this.#sibling(a, ap.base)?.attr.name ?? "");
      const cur = this.#state.get(a.attr.name);
      if (typeof target !== "number" || typeof cur !== "number") continue;
      const k = 1 - Math.exp(-dt / ap.tauMs);
      this.#state.set(a.attr.name, cur + (target - cur) * k);
    }
  }

  /** The attribute `base` of the same channel as `a`. */
  #sibling(a: InstrumentAttr, base: string): InstrumentAttr | undefined {
    return this.inst.attrs.find((x) =>
      x.base === base &&
      Object.entries(a.vars).every(([k, id]) => x.vars[k] === undefined || x.vars[k] === id)
    );
  }

  /** The value an attribute reads now: its state (or what it follows) plus noise. */
  #value(a: InstrumentAttr): Value {
    let v = this.#state.get(a.attr.name) ?? null;
    if (a.sim.follows !== undefined) {
      const src = this.#sibling(a, a.sim.follows);
      if (src) v = this.#state.get(src.attr.name) ?? v;
    }
    if (typeof v === "number" && a.sim.noise && !a.register!.write) {
      v = v + this.#random.gauss(0, a.sim.noise);
    }
    return v;
  }
}
