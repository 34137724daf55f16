/**
 * One instrument behind a message line (the `message` family's {@linkcode Device}): reads and
 * writes by its definition's templates and parse rules, actions, SCPI error checking after
 * each exchange, unit letters of a shared line. `./driver.ts` opens it from an address.
 *
 * @module
 */
import {
  type Attr,
  attr as makeAttr,
  findAttr,
  type Value,
  type Values,
} from "../../device/attr.ts";
import type { CallOptions, Device } from "../../device/device.ts";
import { DeviceError, WriteRejected } from "../../device/errors.ts";
import type { Instrument, InstrumentAction, InstrumentAttr } from "../../instruments/definition.ts";
import type { LineIO, MessageLine } from "../../transport/message.ts";
import { ENQ } from "./model.ts";
import { encodeBlock, formatValue, parseAnswer, ParseError } from "./protocol.ts";
import { renderTemplate } from "../../instruments/template.ts";
import { shortForm } from "./scpi.ts";

/** SCPI's "not a number" answer (a measurement that could not be made). */
const SCPI_NAN = 9.91e37;

/** ESR bit names, for error messages. */
const ESR_NAMES: [number, string][] = [
  [4, "query error"],
  [8, "device error"],
  [16, "execution error"],
  [32, "command error"],
];

/** Writes wider than this are refused before the wire (a command line, not a data upload). */
const MAX_COMMAND = 4096;

/** One instrument behind a message line. */
export class MessageDevice implements Device {
  readonly #attrs: Attr[];
  readonly #byName = new Map<string, InstrumentAttr>();
  readonly #actions = new Map<string, InstrumentAction>();
  readonly #written = new Map<string, Value>();
  readonly #ran = new Set<string>();
  readonly #queries = new Map<string, string>();
  #ready: Promise<void> | undefined;
  /** `#ready` once it has resolved. */
  #done: Promise<void> | undefined;
  /** The stream's `opens` when the init in `#ready` ran: another value is a new connection. */
  #readyOn: number | undefined;
  #closed = false;
  /** Warnings (a mismatched `*IDN?`), reported once on stderr by default. */
  warn: (message: string) => void = (m) => console.error(`labwire: ${m}`);

  /** Wraps an open line; no I/O until the first call. */
  constructor(
    readonly name: string,
    readonly address: string,
    readonly driver: string,
    readonly inst: Instrument,
    readonly line: MessageLine,
    readonly timeoutMs: number,
    readonly unit: string,
  ) {
    for (const a of inst.attrs) this.#byName.set(a.attr.name, a);
    for (const a of inst.actions) this.#actions.set(a.name, a);
    this.#attrs = [
      ...inst.attrs.map((a) => a.attr),
      ...inst.actions.map((a) =>
        makeAttr(a.name, "boolean", {
          rw: true,
          status: false,
          description: `action: ${a.description ?? a.command} — write true to run it`,
        })
      ),
    ];
  }

  /** The definition's attributes, and its actions as write-only booleans. */
  attrs(): Promise<Attr[]> {
    return Promise.resolve(this.#attrs.map((a) => ({ ...a })));
  }

  /** No techniques beyond sampling and holding. */
  techniques(): string[] {
    return [];
  }

  /** The names of the definition's actions. */
  actions(): string[] {
    return [...this.#actions.keys()];
  }

  /** Reads the named attributes (the status ones by default); each distinct query is sent once. */
  read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    try {
      const wanted = names ?? this.#attrs.filter((a) => a.status).map((a) => a.name);
      for (const n of wanted) {
        if (!this.#byName.has(n) && !this.#actions.has(n)) findAttr(this.#attrs, n, this.name);
      }
      // The poll of one attribute of a ready device, the commonest read: one query and a then,
      // no async frame (~0.5 KB less garbage per read).
      const one = wanted.length === 1 ? this.#byName.get(wanted[0]!) : undefined;
      if (one?.get && one.parse.kind !== "block" && this.#isReady()) {
        const cmd = this.#queryCommand(one.get);
        return this.#query(cmd, opts).then((answer) => {
          const out: Values = {};
          out[one.attr.name] = this.#parse(one, cmd, answer);
          return out;
        });
      }
      return this.#read(wanted, opts);
    } catch (err) {
      // A mistake (an unknown attribute) rejects, as from any async read.
      return Promise.reject(err);
    }
  }

  async #read(wanted: readonly string[], opts?: CallOptions): Promise<Values> {
    // Polls of a ready device skip even the await of a settled promise (garbage per read).
    if (!this.#isReady()) await this.#init(opts);
    // Several attributes from one answer (a status line) ask once; one attribute needs no map.
    const answers = wanted.length > 1 ? new Map<string, string | Uint8Array>() : undefined;
    // On a pipelined line every distinct query is asked at once (one write, answers in order).
    const asked = wanted.length > 1 && this.line.window > 1
      ? this.#askAll(wanted, opts)
      : undefined;
    const out: Values = {};
    for (const n of wanted) {
      const a = this.#byName.get(n);
      if (!a) {
        // An action has no value: it reads true once it has run (the read-back of a write).
        out[n] = this.#ran.has(n);
        continue;
      }
      if (!a.get) {
        out[n] = this.#written.get(n) ?? null;
        continue;
      }
      const cmd = this.#queryCommand(a.get);
      let answer = answers?.get(cmd);
      if (answer === undefined) {
        const early = asked?.get(cmd);
        answer = early
          ? await early
          : a.parse.kind === "block"
          ? await this.#queryBlock(cmd, opts)
          : await this.#query(cmd, opts);
        answers?.set(cmd, answer);
      }
      out[n] = this.#parse(a, cmd, answer);
    }
    return out;
  }

  /** The distinct text queries of `wanted`, all sent now; each awaited by the read in turn. */
  #askAll(wanted: readonly string[], opts?: CallOptions): Map<string, Promise<string>> {
    const asked = new Map<string, Promise<string>>();
    for (const n of wanted) {
      const a = this.#byName.get(n);
      if (!a?.get || a.parse.kind === "block") continue;
      const cmd = this.#queryCommand(a.get);
      if (asked.has(cmd)) continue;
      const p = this.#query(cmd, opts);
      // Awaited in its turn by the read: a failure before then is not unhandled.
      p.catch(() => {});
      asked.set(cmd, p);
    }
    return asked;
  }

  /** Writes one attribute (validated by the caller against its Attr) or runs an action. */
  async write(name: string, value: Value, opts?: CallOptions): Promise<void> {
    const action = this.#actions.get(name);
    if (action) {
      if (value !== true) {
        throw new WriteRejected(`${name} is an action: write ${name}=true to run it`, name);
      }
      await this.#init(opts);
      await this.#command(this.#render(action.command, {}), action.reply, opts);
      if (action.wait) await this.#complete(opts);
      this.#ran.add(name);
      return;
    }
    const a = this.#byName.get(name);
    if (!a) throw new WriteRejected(`${this.name} has no attribute "${name}"`, name);
    if (!a.set) throw new WriteRejected(`${name} is read-only`, name);
    if (a.values && typeof value === "number" && !a.values.includes(value)) {
      throw new WriteRejected(
        `${name}: ${value} is not one of ${a.values.join(", ")}${
          a.attr.units ? ` ${a.attr.units}` : ""
        }`,
        name,
      );
    }
    const text = formatValue(value, {
      map: a.parse.map,
      format: a.format,
      scale: a.parse.scale,
      options: a.attr.options,
    });
    const cmd = this.#render(a.set, { value: text });
    if (cmd.length > MAX_COMMAND) {
      throw new WriteRejected(`${name}: the command would be ${cmd.length} characters`, name);
    }
    await this.#init(opts);
    await this.#command(cmd, a.reply, opts);
    this.#written.set(name, value);
    if (a.wait) await this.#complete(opts);
  }

  /** Closes the line (shared lines close with their last user). */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.line.close();
    }
    return Promise.resolve();
  }

  #render(template: string, vars: Record<string, string>): string {
    const text = renderTemplate(template, { unit: this.unit, ...vars });
    return this.inst.protocol === "scpi" ? shortForm(text) : text;
  }

  /** A query's wire form, rendered once (queries have no {value}; every read sends them). */
  #queryCommand(template: string): string {
    let cmd = this.#queries.get(template);
    if (cmd === undefined) this.#queries.set(template, cmd = this.#render(template, {}));
    return cmd;
  }

  #call(opts?: CallOptions): { timeout: number; signal?: AbortSignal } {
    return { timeout: opts?.timeout ?? this.timeoutMs, signal: opts?.signal };
  }

  /** True when the init of the current connection has completed. */
  #isReady(): boolean {
    const stream = this.line.stream;
    return this.#done !== undefined && this.#done === this.#ready && stream.connected &&
      this.#readyOn === stream.opens;
  }

  /**
   * Identification and init on every new connection (an instrument that restarted, or a serial
   * adapter plugged back in, has lost its settings), and again after a failure.
   */
  #init(opts?: CallOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new DeviceError(`${this.name} is closed`, this.name));
    const stream = this.line.stream;
    if (this.#ready && stream.connected && this.#readyOn === stream.opens) return this.#ready;
    return this.#reinit(opts);
  }

  async #reinit(opts?: CallOptions): Promise<void> {
    const stream = this.line.stream;
    // Open first, so the init goes to the connection the reads that follow will use.
    if (!stream.connected) await stream.connect(this.#call(opts));
    if (this.#ready && this.#readyOn === stream.opens) return await this.#ready;
    this.#readyOn = stream.opens;
    this.#ready = (async () => {
      const id = this.inst.identify;
      if (id?.match) {
        const idn = await this.#query(id.query, opts, false);
        if (!id.match.test(idn)) {
          const msg =
            `${this.address}: ${id.query} answered ${JSON.stringify(idn)}, which does not match ` +
            `the ${this.inst.name} definition (/${id.match.source}/)`;
          if (id.onMismatch === "refuse") {
            throw new DeviceError(`${msg}; check the address or ?instrument=`, this.name);
          }
          this.warn(`${msg}; going on (the definition says warn)`);
        }
      }
      for (const cmd of this.inst.init) await this.#command(this.#render(cmd, {}), false, opts);
    })();
    const ready = this.#ready;
    ready.then(() => this.#done = ready, () => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    return await ready;
  }

  /** One query; with an `;*ESR?` suffix the status is checked in the same round trip. */
  #query(cmd: string, opts?: CallOptions, check = true): Promise<string> {
    const p = this.inst.protocol;
    if (p === "pfeiffer") return this.#pfeiffer(cmd, opts);
    const suffix = check ? this.inst.errors?.suffix : undefined;
    // A then, not an async frame: every poll passes here (~0.4 KB less garbage per query).
    return this.line.query(suffix ? cmd + suffix : cmd, {
      timeout: opts?.timeout ?? this.timeoutMs,
      signal: opts?.signal,
      expect: p === "alicat" ? this.#isOurs : undefined,
    }).then((answer) => this.#checkAnswer(cmd, answer, suffix));
  }

  /** Whether an answer on a shared line is this unit's (bound once: polls pass it every time). */
  readonly #isOurs = (answer: string): boolean => {
    const s = answer.replace(/\0/g, "").trim();
    return s === "?" || s.startsWith(this.unit);
  };

  #checkAnswer(cmd: string, raw: string, suffix: string | undefined): string {
    let answer = raw.includes("\0") ? raw.replace(/\0/g, "") : raw;
    if (this.inst.protocol === "alicat" && answer.trim() === "?") {
      throw new DeviceError(
        `${this.address}: ${JSON.stringify(cmd)}: the instrument refused the command (?)`,
        this.name,
      );
    }
    if (suffix) {
      const i = answer.lastIndexOf(";");
      const esrText = i >= 0 ? answer.slice(i + 1) : answer;
      answer = i >= 0 ? answer.slice(0, i) : "";
      this.#checkEsr(cmd, esrText);
    }
    return answer;
  }

  #checkEsr(cmd: string, esrText: string): void {
    const esr = Number(esrText.trim());
    if (!Number.isInteger(esr)) {
      throw new DeviceError(
        `${this.address}: ${JSON.stringify(cmd)}: expected the status byte after ";", got ${
          JSON.stringify(esrText)
        }`,
        this.name,
      );
    }
    const bad = esr & (this.inst.errors?.mask ?? 0x3c);
    if (bad) {
      const what = ESR_NAMES.filter(([b]) => bad & b).map(([, n]) => n).join(", ");
      throw new DeviceError(
        `${this.address}: ${JSON.stringify(cmd)}: the instrument reported: ${what} (ESR ${esr})`,
        this.name,
      );
    }
  }

  async #queryBlock(cmd: string, opts?: CallOptions): Promise<Uint8Array> {
    const data = await this.line.queryBlock(cmd, this.#call(opts));
    // The line gives the block's data; parse rules take the whole block.
    return encodeBlock(data);
  }

  /** Pfeiffer: the command, its ACK (or NAK), then ENQ for the data — nobody else in between. */
  #pfeiffer(cmd: string, opts?: CallOptions): Promise<string> {
    return this.line.exchange(
      async (io: LineIO) => {
        const ack = (await io.query(cmd)).trim();
        if (ack === "\x15") {
          throw new DeviceError(
            `${this.address}: ${
              JSON.stringify(cmd)
            }: the controller answered NAK (command refused)`,
            this.name,
          );
        }
        if (ack !== "\x06") {
          throw new DeviceError(
            `${this.address}: ${JSON.stringify(cmd)}: expected ACK, got ${JSON.stringify(ack)}`,
            this.name,
          );
        }
        await io.writeBytes(new TextEncoder().encode(ENQ));
        return await io.readLine();
      },
      this.#call(opts),
      cmd,
    );
  }

  /** A command without a value to return: sent, its reply (if any) read, its errors checked. */
  async #command(cmd: string, reply: boolean, opts?: CallOptions): Promise<void> {
    const p = this.inst.protocol;
    if (p === "pfeiffer" || reply) {
      await this.#query(cmd, opts);
      return;
    }
    const errors = this.inst.errors;
    if (errors?.suffix) {
      // The suffix makes every command a query: its answer is the status byte.
      const answer = await this.line.query(cmd + errors.suffix, this.#call(opts));
      this.#checkEsr(cmd, answer.slice(answer.lastIndexOf(";") + 1));
      return;
    }
    await this.line.write(cmd, this.#call(opts));
    if (errors?.query) {
      const found: string[] = [];
      // Drain the queue (bounded: a queue is 20 deep on the instruments we know).
      for (let i = 0; i < 32; i++) {
        const e = (await this.line.query(shortForm(errors.query), this.#call(opts))).trim();
        if (errors.ok.test(e)) break;
        found.push(e);
      }
      if (found.length) {
        throw new DeviceError(
          `${this.address}: ${JSON.stringify(cmd)}: the instrument reported ${found.join("; ")}`,
          this.name,
        );
      }
    }
  }

  async #complete(opts?: CallOptions): Promise<void> {
    const c = this.inst.completion;
    const answer = await this.line.query(shortForm(c.query), {
      timeout: Math.max(c.timeoutMs, opts?.timeout ?? 0),
      signal: opts?.signal,
    });
    if (answer.trim() !== "1") {
      throw new DeviceError(
        `${this.address}: ${c.query} answered ${JSON.stringify(answer)}, expected 1`,
        this.name,
      );
    }
  }

  #parse(a: InstrumentAttr, cmd: string, answer: string | Uint8Array): Value {
    try {
      const v = parseAnswer(answer, a.parse);
      if (typeof v === "number" && Math.abs(v) === SCPI_NAN && this.inst.protocol === "scpi") {
        throw new ParseError(
          "the instrument answered 9.91E+37 (not a number: no valid measurement)",
          String(answer),
        );
      }
      return v;
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      const shown = typeof answer === "string"
        ? JSON.stringify(answer.slice(0, 80))
        : `${answer.length} bytes`;
      throw new DeviceError(
        `${this.address}: ${a.attr.name}: ${JSON.stringify(cmd)} answered ${shown}: ${err.message}`,
        this.name,
        {
          cause: err,
        },
      );
    }
  }
}
