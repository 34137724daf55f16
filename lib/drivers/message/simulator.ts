/**
 * A simulator for ANY instrument definition (`labwire sim NAME`): the {@linkcode InstrumentModel}
 * behind a TCP listener or a pseudo-terminal, with the same fault injection as `sim://`
 * (latency, jitter, unanswered commands, error answers, garbage, disconnects). Messages end at
 * CR or LF (and at a lone ENQ for Pfeiffer); answers end with the definition's read termination.
 *
 * @example
 * ```ts ignore
 * const sim = await startTcpSimulator(await findInstrument("keysight-34461a"), { port: 0 });
 * console.log(sim.address); // tcp://127.0.0.1:40123?instrument=keysight-34461a
 * await sim.close();
 * ```
 *
 * @module
 */
import type { Instrument } from "../../instruments/definition.ts";
import { decodeText } from "../../transport/framing.ts";
import type { FaultOptions } from "../sim/faults.ts";
import { InstrumentModel, MessageSplitter, NAK } from "./model.ts";
import {
  ConnectedSimulator,
  type PtyPlace,
  type PtySimulatorOf,
  type ReplyText,
  serveOnPty,
  serveOnTcp,
  type SimConn,
  type TcpPlace,
  type TcpSimulatorOf,
} from "../sim/ports.ts";

/** What happened to one message, for `labwire sim --verbose`. */
export interface MessageEvent {
  /** The message received (without termination). */
  message: string;
  /** What the simulator did. */
  outcome: "ok" | "timeout" | "error" | "garbage" | "disconnected";
  /** The lines answered. */
  answer: string[];
}

/** Options of a simulated message instrument. */
export interface MessageSimOptions {
  /** Seed of noise and faults. */
  seed?: number;
  /** Fault injection, as for `sim://` devices. */
  faults?: FaultOptions;
  /** Unit letters answered on this line (Alicat); several units share it. */
  units?: string[];
  /** Called for every message handled. */
  onMessage?: (event: MessageEvent) => void;
}

export type { SimConn } from "../sim/ports.ts";

/** Bytes → text, one character per byte (keeps ACK/ENQ and binary blocks intact). */
export function bytesToText(bytes: Uint8Array): string {
  return decodeText(bytes, "latin1");
}

export { textToBytes } from "../sim/ports.ts";

/** The instrument(s) on one line, their faults, and the serving of connections. */
export class MessageSimulator extends ConnectedSimulator {
  /** One model per unit letter sharing the line (one without units). */
  readonly models: InstrumentModel[];
  /** Messages handled, by outcome. */
  readonly counts = { ok: 0, timeout: 0, error: 0, garbage: 0, disconnected: 0 };

  /** Creates the simulator of `inst`. */
  constructor(readonly inst: Instrument, readonly opts: MessageSimOptions = {}) {
    super(opts.faults, opts.seed ?? 1);
    const seed = opts.seed ?? 1;
    const units = opts.units?.length ? opts.units : [undefined];
    this.models = units.map((unit, i) => new InstrumentModel(inst, { seed: seed + i, unit }));
  }

  /**
   * Serves one connection until it ends or the simulator closes. Messages are cut from the
   * bytes as they arrive (a string per message, none per chunk) and answered into the
   * connection's output buffer.
   */
  serve(conn: SimConn): Promise<void> {
    const split = new MessageSplitter(this.inst.protocol === "pfeiffer");
    return this.serveConn(conn, 16 * 1024, (_reply, replyText) => ({
      data: (chunk) => split.push(chunk, (message) => this.#handle(message, replyText)),
    }));
  }

  /** Decides faults and answers one message with `reply` (nothing for a silent one). */
  #handle(message: string, reply: ReplyText): void {
    const outcome = this.faults.decide();
    this.counts[outcome]++;
    const onMessage = this.opts.onMessage;
    if (outcome === "disconnected") {
      onMessage?.({ message, outcome, answer: [] });
      this.disconnect();
      return;
    }
    const term = this.inst.transport.readTermination;
    const delayMs = this.faults.delayMs();
    if (outcome === "timeout") {
      onMessage?.({ message, outcome, answer: [] });
      return;
    }
    let lines: string[];
    if (outcome === "garbage") {
      lines = [
        Array.from(
          { length: 12 },
          () => String.fromCharCode(33 + Math.floor(this.garbage.next() * 90)),
        ).join(""),
      ];
    } else if (outcome === "error") lines = this.#errorAnswer(message);
    else {
      const models = this.models;
      lines = models.length === 1
        ? models[0]!.handle(message)
        : models.flatMap((m) => m.handle(message));
    }
    onMessage?.({ message, outcome, answer: lines });
    if (lines.length === 1) reply(lines[0]! + term, delayMs);
    else if (lines.length > 1) reply(lines.map((l) => l + term).join(""), delayMs);
  }

  /** A failed command as the dialect reports it: SCPI's not-a-number, Alicat's `?`, a NAK. */
  #errorAnswer(message: string): string[] {
    switch (this.inst.protocol) {
      case "alicat":
        return ["?"];
      case "pfeiffer":
        return [NAK];
      default:
        for (const m of this.models) m.deviceError();
        // SCPI's "not a number" for a query that could not be measured.
        return message.includes("?") ? ["9.91E+37"] : [];
    }
  }
}

/** A simulator listening on TCP. */
export type TcpSimulator = TcpSimulatorOf<MessageSimulator>;

/** Options of {@linkcode startTcpSimulator}. */
export interface TcpSimOptions extends MessageSimOptions, TcpPlace {}

/** Starts a simulator of `inst` listening on TCP; a disconnect fault refuses connections for a while. */
export function startTcpSimulator(
  inst: Instrument,
  opts: TcpSimOptions = {},
): Promise<TcpSimulator> {
  return serveOnTcp(
    new MessageSimulator(inst, opts),
    (sim, conn) => sim.serve(conn),
    opts,
    (hp) => `tcp://${hp}?instrument=${inst.name}`,
  );
}

/** A simulator on a pseudo-terminal of its own. */
export type PtySimulator = PtySimulatorOf<MessageSimulator>;

/** Options of {@linkcode startPtySimulator}. */
export interface PtySimOptions extends MessageSimOptions, PtyPlace {}

/**
 * Starts a simulator of `inst` on a new pseudo-terminal. A disconnect fault makes it fall silent for `disconnect_for`: a serial
 * instrument that lost power.
 */
export function startPtySimulator(
  inst: Instrument,
  opts: PtySimOptions = {},
): Promise<PtySimulator> {
  return serveOnPty(
    new MessageSimulator(inst, opts),
    (sim, conn) => sim.serve(conn),
    opts,
    (path) => `serial://${path}?instrument=${inst.name}`,
  );
}
