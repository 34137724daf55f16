/**
 * A simulator for ANY Modbus register map (`labwire sim NAME` of a `protocol = "modbus"`
 * definition): {@linkcode ModbusModel}s — one per unit id — behind a Modbus TCP listener or, with
 * `--pty`, Modbus RTU on a pseudo-terminal, with the same fault injection as `sim://` (latency,
 * jitter, unanswered requests, errors answered as exception 04, garbage, disconnects).
 *
 * TCP: a request to a unit id the simulator does not have is answered with exception 0B
 * (gateway target failed to respond), as a gateway does. RTU: it is not answered (a silent unit
 * on the bus). RTU frames are found by the lengths their function codes imply; a frame with a
 * bad CRC is dropped with everything up to the next inter-frame silence, as a real device does.
 *
 * @example
 * ```ts ignore
 * const sim = await startModbusTcpSimulator(await findInstrument("omega-cn7500"), { port: 0 });
 * console.log(sim.address); // modbus://127.0.0.1:40123?instrument=omega-cn7500
 * await sim.close();
 * ```
 *
 * @module
 */
import type { Instrument } from "../../instruments/definition.ts";
import {
  ConnectedSimulator,
  type PtyPlace,
  type PtySimulatorOf,
  serveOnPty,
  serveOnTcp,
  type SimConn,
  type TcpPlace,
  type TcpSimulatorOf,
} from "../sim/ports.ts";
import type { FaultOptions } from "../sim/faults.ts";
import { ModbusModel } from "./model.ts";
import {
  decodeMbap,
  decodeRtu,
  encodeMbap,
  encodeRtu,
  MBAP_LENGTH,
  rtuRequestLength,
  rtuSilenceMs,
} from "./adu.ts";
import { encodeException, hexBytes, ModbusFrameError } from "./protocol.ts";

/** What happened to one request, for `labwire sim --verbose`. */
export interface ModbusEvent {
  /** Unit id asked. */
  unit: number;
  /** The request PDU, as hex. */
  request: string;
  /** What the simulator did. */
  outcome: "ok" | "timeout" | "error" | "garbage" | "disconnected" | "no such unit" | "bad frame";
  /** The answer PDU, as hex ("" when none). */
  answer: string;
}

/** Options of a simulated Modbus device (or several on one line). */
export interface ModbusSimOptions {
  /** Seed of noise and faults. */
  seed?: number;
  /** Fault injection, as for `sim://` devices. */
  faults?: FaultOptions;
  /** Unit ids answered (default the definition's unit, 1). */
  units?: number[];
  /** Baud rate of the RTU line (for the inter-frame silence; default the definition's). */
  baud?: number;
  /** Called for every request handled. */
  onRequest?: (event: ModbusEvent) => void;
  /** Clock of the models, ms (tests). */
  now?: () => number;
}

/** The device(s) behind one port, their faults, and the serving of connections. */
export class ModbusSimulator extends ConnectedSimulator {
  /** One model per unit id. */
  readonly models: Map<number, ModbusModel>;
  /** Requests handled, by outcome. */
  readonly counts = {
    ok: 0,
    timeout: 0,
    error: 0,
    garbage: 0,
    disconnected: 0,
    exceptions: 0,
    bad_frames: 0,
  };

  /** Creates the simulator of `inst`. */
  constructor(readonly inst: Instrument, readonly opts: ModbusSimOptions = {}) {
    super(opts.faults, opts.seed ?? 1);
    const seed = opts.seed ?? 1;
    const units = opts.units?.length ? opts.units : [inst.modbus?.unit ?? 1];
    this.models = new Map(
      units.map((u, i) => [u, new ModbusModel(inst, { seed: seed + i, now: opts.now })]),
    );
  }

  /**
   * Answers one request PDU for `unit`: the reply PDU and its delay, or undefined when nothing
   * is sent. `rtu` says how an unknown unit is treated (silence vs exception 0B).
   */
  answer(
    unit: number,
    pdu: Uint8Array,
    rtu: boolean,
  ): { pdu: Uint8Array; delayMs: number; raw?: boolean } | undefined {
    const note = (outcome: ModbusEvent["outcome"], answer?: Uint8Array) =>
      this.opts.onRequest?.({
        unit,
        request: hexBytes(pdu),
        outcome,
        answer: answer ? hexBytes(answer) : "",
      });
    const model = this.models.get(unit);
    if (!model) {
      if (rtu) {
        note("no such unit");
        return undefined;
      }
      const e = encodeException(pdu[0] ?? 0, 0x0b);
      note("no such unit", e);
      return { pdu: e, delayMs: 0 };
    }
    const outcome = this.faults.decide();
    this.counts[outcome]++;
    if (outcome === "disconnected") {
      note(outcome);
      this.disconnect();
      return undefined;
    }
    if (outcome === "timeout") {
      note(outcome);
      return undefined;
    }
    const delayMs = this.faults.delayMs();
    if (outcome === "garbage") {
      const junk = Uint8Array.from({ length: 9 }, () => Math.floor(this.garbage.next() * 256));
      note(outcome, junk);
      return { pdu: junk, delayMs, raw: true };
    }
    if (outcome === "error") {
      const e = encodeException(pdu[0] ?? 0, 0x04);
      note(outcome, e);
      return { pdu: e, delayMs };
    }
    const reply = model.handle(pdu);
    if (reply[0]! & 0x80) this.counts.exceptions++;
    note(outcome, reply);
    return { pdu: reply, delayMs };
  }

  /** Serves one Modbus TCP connection until it ends or the simulator closes. */
  async serveTcp(conn: SimConn): Promise<void> {
    let pending: Uint8Array = new Uint8Array(0);
    try {
      await this.serveConn(conn, 4096, (reply) => ({
        data: (chunk) => {
          pending = concat(pending, chunk);
          let off = 0;
          while (pending.length - off >= MBAP_LENGTH) {
            let h;
            try {
              h = decodeMbap(pending.subarray(off, off + MBAP_LENGTH));
            } catch (err) {
              if (!(err instanceof ModbusFrameError)) throw err;
              // Not Modbus TCP: nothing after it can be framed; drop the connection.
              this.counts.bad_frames++;
              throw err;
            }
            const total = 6 + h.length;
            if (pending.length - off < total) break;
            const pdu = pending.slice(off + MBAP_LENGTH, off + total);
            off += total;
            const r = this.answer(h.unit, pdu, false);
            if (r) reply(r.raw ? r.pdu : encodeMbap(h.transaction, h.unit, r.pdu), r.delayMs);
          }
          pending = pending.slice(off);
        },
      }));
    } catch {
      // A malformed header ends this connection.
    }
  }

  /**
   * Serves Modbus RTU on a line until it ends: frames by length, CRC checked, resynchronised on
   * the inter-frame silence.
   */
  serveRtu(conn: SimConn): Promise<void> {
    let pending: Uint8Array = new Uint8Array(0);
    let lastByte = 0;
    // Silence that ends a frame: 3.5 characters, but at least a few ms, since a pty or a
    // loaded machine delivers one frame's bytes in chunks that far apart.
    const silence = Math.max(rtuSilenceMs(this.opts.baud ?? this.inst.transport.baud), 20);
    let flush: ReturnType<typeof setTimeout> | undefined;
    return this.serveConn(conn, 4096, (reply) => {
      const take = (frame: Uint8Array) => {
        let unit: number;
        let pdu: Uint8Array;
        try {
          ({ unit, pdu } = decodeRtu(frame));
        } catch {
          this.counts.bad_frames++;
          this.opts.onRequest?.({
            unit: frame[0] ?? 0,
            request: hexBytes(frame),
            outcome: "bad frame",
            answer: "",
          });
          return false;
        }
        // Broadcast (unit 0) writes are carried out by every unit and never answered.
        if (unit === 0) {
          for (const m of this.models.values()) m.handle(pdu);
          return true;
        }
        const r = this.answer(unit, pdu, true);
        if (r) reply(r.raw ? r.pdu : encodeRtu(unit, r.pdu), r.delayMs);
        return true;
      };
      const drain = () => {
        for (;;) {
          const len = rtuRequestLength(pending);
          if (len === undefined) return;
          if (len === -1) {
            // Unknown function: the frame ends at the next silence.
            clearTimeout(flush);
            flush = setTimeout(() => {
              flush = undefined;
              const frame = pending;
              pending = new Uint8Array(0);
              take(frame);
            }, silence);
            return;
          }
          if (pending.length < len) return;
          const frame = pending.slice(0, len);
          if (!take(frame)) {
            // A CRC error: the rest up to the next silence is noise.
            pending = new Uint8Array(0);
            return;
          }
          pending = pending.slice(len);
        }
      };
      return {
        data: (chunk) => {
          const now = performance.now();
          if (pending.length > 0 && now - lastByte > silence) {
            // A partial frame followed by silence was never completed: drop it.
            this.counts.bad_frames++;
            pending = new Uint8Array(0);
          }
          lastByte = now;
          pending = concat(pending, chunk);
          if (pending.length > 512) pending = new Uint8Array(0);
          drain();
        },
        end: () => clearTimeout(flush),
      };
    });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A simulator listening on TCP. */
export type ModbusTcpSimulator = TcpSimulatorOf<ModbusSimulator>;

/** Options of {@linkcode startModbusTcpSimulator}. */
export interface ModbusTcpSimOptions extends ModbusSimOptions, TcpPlace {}

/** Starts a Modbus TCP simulator of `inst`; a disconnect fault refuses connections for a while. */
export function startModbusTcpSimulator(
  inst: Instrument,
  opts: ModbusTcpSimOptions = {},
): Promise<ModbusTcpSimulator> {
  return serveOnTcp(
    new ModbusSimulator(inst, opts),
    (sim, conn) => sim.serveTcp(conn),
    opts,
    (hp) => `modbus://${hp}?instrument=${inst.name}`,
  );
}

/** A Modbus RTU simulator on a pseudo-terminal of its own. */
export type ModbusPtySimulator = PtySimulatorOf<ModbusSimulator>;

/** Options of {@linkcode startModbusPtySimulator}. */
export interface ModbusPtySimOptions extends ModbusSimOptions, PtyPlace {}

/** Starts a Modbus RTU simulator of `inst` on a new pseudo-terminal. */
export function startModbusPtySimulator(
  inst: Instrument,
  opts: ModbusPtySimOptions = {},
): Promise<ModbusPtySimulator> {
  return serveOnPty(
    new ModbusSimulator(inst, opts),
    (sim, conn) => sim.serveRtu(conn),
    opts,
    (path) => `modbus+rtu://${path}?instrument=${inst.name}`,
  );
}
