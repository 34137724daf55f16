/**
 * The state machine of a simulated message-based instrument, built from ANY definition: it
 * keeps state (a set changes later gets), answers the IEEE 488.2 common commands, keeps the
 * SCPI error queue (`-113,"Undefined header"` for unknown commands, depth 20, `-350` on
 * overflow), accepts long and short mnemonics in any case and `;` chaining, adds noise to
 * measured values, and speaks the dialects: Alicat unit letters and `?` refusals, Pfeiffer's
 * ACK/ENQ exchange. Pure apart from its seeded random source: messages in, reply lines out.
 *
 * @example
 * ```ts ignore
 * const m = new InstrumentModel(await findInstrument("keysight-34461a"));
 * m.handle("*IDN?"); // ["Keysight Technologies,34461A,MY53220000,…"]
 * m.handle("VOLT:DC:RANG 100;RANG?"); // ["+1.00000000E+02"]
 * ```
 *
 * @module
 */
import { startValue } from "../sim/start_value.ts";
import type { Value } from "../../device/attr.ts";
import type { Instrument, InstrumentAction, InstrumentAttr } from "../../instruments/definition.ts";
import { Random } from "../sim/random.ts";
import { commandMatcher, ESR, SCPI_ERRORS, splitProgramMessage } from "./scpi.ts";
import { encodeBlockValues, formatValue, parseAnswer, ParseError, printf } from "./protocol.ts";
import { renderTemplate } from "../../instruments/template.ts";
import { decodeText } from "../../transport/framing.ts";

/** ASCII control characters of the Pfeiffer exchange. */
export const ACK = "\x06";
/** Negative acknowledge. */
export const NAK = "\x15";
/** Enquiry: "send the data". */
export const ENQ = "\x05";

/** The IEEE 488.2 common commands every SCPI and ASCII model answers. */
const COMMON = new Set([
  "*IDN?",
  "*RST",
  "*CLS",
  "*ESR?",
  "*ESE",
  "*ESE?",
  "*SRE",
  "*SRE?",
  "*STB?",
  "*OPC?",
  "*OPC",
  "*WAI",
  "*TRG",
  "*TST?",
]);

/** Largest error queue (Keysight's depth); the last entry becomes `-350` on overflow. */
const QUEUE_DEPTH = 20;

interface Matcher {
  re: RegExp;
  attr?: InstrumentAttr;
  action?: InstrumentAction;
  kind: "get" | "set" | "action";
}

/**
 * What one command unit is, found once per distinct text: the dialogue repeats itself (a
 * poll asks the same few queries), so matching runs once, not per message. Depends on the text
 * and the definition only; what it does to the state happens each time it is run.
 */
interface Resolved {
  /** An IEEE 488.2 common command or `SYST:ERR?` (its keyword), with the unit upper-cased. */
  common?: string;
  upper?: string;
  /** The attribute or action it matched, and a set's value text. */
  matcher?: Matcher;
  arg?: string;
}

/** How an attribute's query is answered, worked out once per attribute. */
interface AnswerPlan {
  /** The attributes read by the same command (their values make up the reply). */
  siblings: InstrumentAttr[];
  /** The reply is the attribute's value alone (no template, layout or token of several). */
  alone: boolean;
}

/** Distinct command texts whose resolution is kept (a stream of distinct sets starts afresh). */
const MAX_RESOLVED = 512;

/** Options of a simulated instrument. */
export interface ModelOptions {
  /** Seed of the noise. */
  seed?: number;
  /** The unit letter answered to (Alicat); the definition's default otherwise. */
  unit?: string;
}

/** A simulated instrument's state and command interpreter. */
export class InstrumentModel {
  /** The unit letter this instrument answers to (Alicat), or the definition's default. */
  readonly unit: string;
  readonly #matchers: Matcher[] = [];
  readonly #state = new Map<string, Value>();
  readonly #random: Random;
  #errors: string[] = [];
  #esr = ESR.powerOn as number;
  #ese = 0;
  #sre = 0;
  #pending: string | undefined;
  readonly #resolved = new Map<string, Resolved>();
  readonly #programs = new Map<string, string[]>();
  readonly #plans = new Map<InstrumentAttr, AnswerPlan>();
  readonly #follows = new Map<InstrumentAttr, InstrumentAttr | undefined>();
  /** Commands handled, for logs. */
  count = 0;

  /** Builds the simulator of `inst`. */
  constructor(readonly inst: Instrument, opts: ModelOptions = {}) {
    this.unit = opts.unit ?? inst.transport.unit ?? "A";
    this.#random = new Random(opts.seed ?? 1);
    const scpi = inst.protocol === "scpi";
    const vars = { unit: this.unit };
    for (const a of inst.attrs) {
      if (a.get) {
        this.#matchers.push({
          re: commandMatcher(renderTemplate(a.get, vars), scpi),
          attr: a,
          kind: "get",
        });
      }
      if (a.set) {
        const tpl = renderTemplate(a.set, { ...vars, value: "{value}" });
        this.#matchers.push({ re: commandMatcher(tpl, scpi), attr: a, kind: "set" });
      }
    }
    for (const action of inst.actions) {
      this.#matchers.push({
        re: commandMatcher(renderTemplate(action.command, vars), scpi),
        action,
        kind: "action",
      });
    }
    this.reset();
  }

  /** Returns every attribute to its initial value (`*RST`). */
  reset(): void {
    for (const a of this.inst.attrs) this.#state.set(a.attr.name, startValue(a));
  }

  /** The current state of an attribute (tests). */
  state(name: string): Value | undefined {
    return this.#state.get(name);
  }

  /** The error queue, oldest first (tests). */
  get errors(): readonly string[] {
    return this.#errors;
  }

  /**
   * Handles one received message (without its termination) and returns the lines to send back
   * (without termination; possibly none).
   */
  handle(message: string): string[] {
    this.count++;
    const text = message.includes("\0") ? message.replace(/\0/g, "") : message;
    switch (this.inst.protocol) {
      case "pfeiffer":
        return this.#pfeiffer(text);
      case "alicat":
        return this.#alicat(text);
      case "scpi":
        return this.#scpi(text);
      default: {
        // Plain ASCII instruments stay silent on what they do not understand.
        const r = this.#unit(text.trim());
        return r.answer === undefined ? [] : [r.answer];
      }
    }
  }

  #scpi(text: string): string[] {
    const answers: string[] = [];
    let units = this.#programs.get(text);
    if (units === undefined) {
      units = splitProgramMessage(text);
      if (this.#programs.size >= MAX_RESOLVED) this.#programs.clear();
      this.#programs.set(text, units);
    }
    for (const unit of units) {
      const r = this.#unit(unit);
      if (r.answer !== undefined) answers.push(r.answer);
    }
    return answers.length ? [answers.join(";")] : [];
  }

  #alicat(text: string): string[] {
    const t = text.trim();
    if (t === "" || t[0]!.toUpperCase() !== this.unit) return [];
    const r = this.#unit(t);
    if (!r.ok) return ["?"];
    return r.answer === undefined ? [] : [r.answer];
  }

  #pfeiffer(text: string): string[] {
    if (text.includes(ENQ)) {
      const p = this.#pending;
      return p === undefined ? [] : [p];
    }
    const t = text.trim();
    if (t === "") return [];
    const r = this.#unit(t);
    if (!r.ok) return [NAK];
    this.#pending = r.answer ?? "";
    return [ACK];
  }

  /** What `unit` is (cached by its text). */
  #resolve(unit: string): Resolved {
    let r = this.#resolved.get(unit);
    if (r !== undefined) return r;
    r = this.#find(unit);
    if (this.#resolved.size >= MAX_RESOLVED) this.#resolved.clear();
    this.#resolved.set(unit, r);
    return r;
  }

  #find(unit: string): Resolved {
    const upper = unit.trim().toUpperCase();
    const common = this.#commonKey(upper);
    if (common !== undefined) return { common, upper };
    for (const matcher of this.#matchers) {
      const hit = matcher.re.exec(unit);
      if (hit) return { matcher, arg: hit[1] ?? "" };
    }
    return {};
  }

  /** One command: answer (for queries and replying sets), or ok=false when refused. */
  #unit(unit: string): { ok: boolean; answer?: string } {
    const r = this.#resolve(unit);
    if (r.common !== undefined) return this.#common(r.common, r.upper!);
    const m = r.matcher;
    if (m !== undefined) {
      if (m.kind === "get") return { ok: true, answer: this.#answer(m.attr!) };
      if (m.kind === "action") {
        if (/^\*RST$/i.test(m.action!.command)) this.reset();
        return { ok: true, answer: m.action!.reply ? this.#poll() : undefined };
      }
      const a = m.attr!;
      const v = this.#parseSet(a, r.arg!);
      if (v === undefined) return { ok: false };
      this.#state.set(a.attr.name, v);
      if (a.reply) return { ok: true, answer: a.get ? this.#answer(a) : this.#poll() };
      return {
        ok: true,
        answer: this.inst.protocol === "pfeiffer" ? this.#format(a, v) : undefined,
      };
    }
    this.#error(SCPI_ERRORS.undefinedHeader, ESR.commandError);
    return { ok: false };
  }

  /** The common command `u` (a unit upper-cased) is, if this protocol has it. */
  #commonKey(u: string): string | undefined {
    if (this.inst.protocol !== "scpi" && this.inst.protocol !== "ascii") return undefined;
    const head = u.split(/\s+/)[0]!;
    if (COMMON.has(head)) return head;
    if (this.inst.protocol === "scpi" && /^:?SYST(EM)?:ERR(OR)?(:NEXT)?\?$/.test(u)) {
      return "SYST:ERR?";
    }
    return undefined;
  }

  /** Runs the common command `key` (`u`: the unit upper-cased, for its argument). */
  #common(key: string, u: string): { ok: boolean; answer?: string } {
    const arg = (): number => Number(u.split(/\s+/)[1] ?? "0");
    switch (key) {
      case "*IDN?":
        return { ok: true, answer: this.inst.simIdn };
      case "*RST":
        this.reset();
        return { ok: true };
      case "*CLS":
        this.#errors = [];
        this.#esr = 0;
        return { ok: true };
      case "*ESR?": {
        const v = this.#esr;
        this.#esr = 0;
        return { ok: true, answer: String(v) };
      }
      case "*ESE":
        this.#ese = arg() & 0xff;
        return { ok: true };
      case "*ESE?":
        return { ok: true, answer: String(this.#ese) };
      case "*SRE":
        this.#sre = arg() & 0xff;
        return { ok: true };
      case "*SRE?":
        return { ok: true, answer: String(this.#sre) };
      case "*STB?": {
        let stb = 0;
        if (this.#errors.length) stb |= 4;
        if (this.#esr & this.#ese) stb |= 32;
        if (stb & this.#sre) stb |= 64;
        return { ok: true, answer: String(stb) };
      }
      case "*OPC?":
        return { ok: true, answer: "1" };
      case "*OPC":
        this.#esr |= ESR.opc;
        return { ok: true };
      case "*WAI":
      case "*TRG":
        return { ok: true };
      case "*TST?":
        return { ok: true, answer: "0" };
      case "SYST:ERR?":
        return { ok: true, answer: this.#errors.shift() ?? SCPI_ERRORS.none };
    }
    return { ok: false };
  }

  /** Queues an error (SCPI) and sets its ESR bit. */
  #error(entry: string, esrBit: number): void {
    this.#esr |= esrBit;
    if (this.#errors.length >= QUEUE_DEPTH) {
      this.#errors[QUEUE_DEPTH - 1] = SCPI_ERRORS.queueOverflow;
    } else this.#errors.push(entry);
  }

  /** Records a device-side failure (a fault injection's "error"). */
  deviceError(): void {
    this.#error(SCPI_ERRORS.systemError, ESR.deviceError);
  }

  #parseSet(a: InstrumentAttr, text: string): Value | undefined {
    if (a.format === "index") {
      const v = a.attr.options?.[Number(text)];
      if (v === undefined || !/^\d+$/.test(text.trim())) {
        this.#error(SCPI_ERRORS.illegalValue, ESR.executionError);
        return undefined;
      }
      return v;
    }
    let v: Value;
    try {
      v = parseAnswer(text, {
        ...a.parse,
        regex: undefined,
        token: undefined,
        layout: undefined,
        mask: undefined,
        split: a.parse.kind === "numbers" ? "," : undefined,
      });
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      this.#error(
        a.parse.kind === "enum" ? SCPI_ERRORS.illegalValue : SCPI_ERRORS.dataType,
        ESR.commandError,
      );
      return undefined;
    }
    if (typeof v === "number") {
      const { min, max } = a.attr;
      const inValues = !a.values ||
        a.values.some((x) => Math.abs(x - v as number) <= 1e-9 * Math.max(1, Math.abs(x)));
      if ((min !== undefined && v < min) || (max !== undefined && v > max) || !inValues) {
        this.#error(SCPI_ERRORS.dataOutOfRange, ESR.executionError);
        return undefined;
      }
    }
    if (a.parse.kind === "flags" && typeof v === "string") return this.#state.get(a.attr.name) ?? 0;
    return v;
  }

  /** The value an attribute reads now: its state (or what it follows) plus noise. */
  #value(a: InstrumentAttr): Value {
    let v = this.#state.get(a.attr.name) ?? null;
    const follows = a.sim.follows;
    if (follows !== undefined) {
      let src = this.#follows.get(a);
      if (src === undefined && !this.#follows.has(a)) {
        src = this.inst.attrs.find((x) =>
          x.base === follows &&
          Object.entries(a.vars).every(([k, id]) => x.vars[k] === undefined || x.vars[k] === id)
        );
        this.#follows.set(a, src);
      }
      if (src) v = this.#state.get(src.attr.name) ?? v;
    }
    if (typeof v === "number" && a.sim.noise && !a.set) {
      v = v + this.#random.gauss(0, a.sim.noise);
      if (a.parse.kind === "integer") v = Math.round(v);
    }
    return v;
  }

  #format(a: InstrumentAttr, v: Value): string {
    if (a.parse.kind === "block" && Array.isArray(v)) {
      return String.fromCharCode(...encodeBlockValues(v, a.parse.block ?? "ascii"));
    }
    if (a.parse.kind === "flags") {
      return printf(a.sim.format ?? "%d", typeof v === "number" ? v : 0);
    }
    // SCPI instruments answer numbers in NR3 whatever format the host writes them in.
    const format = a.sim.format ??
      (typeof v === "number" && this.inst.protocol === "scpi"
        ? (a.parse.kind === "integer" ? "%+d" : "%+.8E")
        : a.format === "index"
        ? undefined
        : a.format);
    if (Array.isArray(v)) return v.map((x) => format ? printf(format, x) : String(x)).join(",");
    if (typeof v === "number" && a.parse.scale) v = v / a.parse.scale;
    return formatValue(v, { map: a.parse.map, format: typeof v === "number" ? format : undefined });
  }

  /** The answer to an attribute's query, composed with the other fields of the same reply. */
  #answer(a: InstrumentAttr): string {
    let plan = this.#plans.get(a);
    if (plan === undefined) {
      plan = {
        siblings: this.inst.attrs.filter((x) => x.get === a.get),
        alone: !a.sim.reply && !a.parse.layout && typeof a.parse.token !== "number",
      };
      this.#plans.set(a, plan);
    }
    const siblings = plan.siblings;
    if (plan.alone) {
      // The siblings' values are not in the reply, but each draws its noise as it would, so a
      // seed gives the same readings whatever the command.
      for (const s of siblings) this.#value(s);
      return this.#format(a, this.#value(a));
    }
    const fields: Record<string, string> = { unit: this.unit, status: "", ...a.vars };
    for (const s of siblings) {
      const key = s.parse.layout ? String(s.parse.token) : s.base;
      fields[key] = this.#format(s, this.#value(s));
    }
    if (a.sim.reply) {
      return renderTemplate(a.sim.reply, { ...fields, value: this.#format(a, this.#value(a)) });
    }
    const layout = a.parse.layout;
    if (layout) {
      if (layout.reply) return renderTemplate(layout.reply, fields).replace(/\s+$/, "");
      const names = layout.fields ?? Object.values(layout.byCount ?? {}).at(-1) ?? [];
      return names.map((n) => fields[n] ?? "0").join(layout.split);
    }
    if (typeof a.parse.token === "number") {
      const tokens: string[] = [];
      for (const s of siblings) {
        if (typeof s.parse.token === "number") {
          tokens[s.parse.token] = this.#format(s, this.#value(s));
        }
      }
      const split = a.parse.split ?? ",";
      return Array.from(tokens, (t) => t ?? "0").join(split === " " ? " " : split);
    }
    return this.#format(a, this.#value(a));
  }

  /** What an action or a value-less set answers on instruments that answer everything (Alicat). */
  #poll(): string {
    const framed = this.inst.attrs.find((a) => a.parse.layout && a.get);
    return framed ? this.#answer(framed) : "";
  }
}

/**
 * Cuts received bytes into messages: any of CR/LF ends one (a lone ENQ is a message of its own
 * for Pfeiffer); empty messages are skipped. A message is made into a string once it is whole,
 * one character per byte; the start of one still incomplete is kept for the next bytes (at most
 * 64 KiB: a longer line without an end is dropped).
 *
 * @example
 * ```ts
 * import { MessageSplitter } from "./model.ts";
 * const got: string[] = [];
 * const split = new MessageSplitter(false);
 * split.push(new TextEncoder().encode("*IDN?\nSYST:E"), (m) => got.push(m));
 * split.push(new TextEncoder().encode("RR?\r\n"), (m) => got.push(m));
 * got; // ["*IDN?", "SYST:ERR?"]
 * ```
 */
export class MessageSplitter {
  #pending = "";

  /** `pfeiffer`: a lone ENQ ends (and is) a message. */
  constructor(readonly pfeiffer: boolean) {}

  /** The start of a message whose end has not arrived yet. */
  get pending(): string {
    return this.#pending;
  }

  /** Calls `each` with every message that `chunk` completes, in order. */
  push(chunk: Uint8Array, each: (message: string) => void): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c !== 13 && c !== 10 && (c !== 5 || !this.pfeiffer)) continue;
      let message = decodeText(chunk.subarray(start, c === 5 ? i + 1 : i), "latin1");
      if (this.#pending !== "") {
        message = this.#pending + message;
        this.#pending = "";
      }
      start = i + 1;
      if (message !== "") each(message);
    }
    if (start < chunk.length) {
      this.#pending += decodeText(chunk.subarray(start), "latin1");
      if (this.#pending.length > 65536) this.#pending = "";
    }
  }
}
