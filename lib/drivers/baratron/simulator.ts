/**
 * A simulated MKS eBaratron: a ToolWeb endpoint (`POST /ToolWeb/Cmd`, content type ignored, as
 * the real device does) answering the poll with realistic values — pressure drifting around a
 * setpoint with noise, run hours counting up from a large start, a warm-up wait counting down,
 * status bits and an LED colour consistent with that state — and the fault options of `sim://`
 * (latency, jitter, timeouts, HTTP 500s, malformed XML, disconnects that refuse connections).
 *
 * Values are computed when a request arrives (no per-gauge timers), so one process serves
 * thousands of gauges.
 *
 * @example
 * ```ts
 * import { startBaratronSimulators } from "./simulator.ts";
 * const sims = await startBaratronSimulators({ count: 2 });
 * console.log(sims.addresses); // ["baratron://127.0.0.1:40123", "baratron://127.0.0.1:40124"]
 * await sims.close();
 * ```
 *
 * @module
 */
import { DeviceError, UsageError } from "../../device/errors.ts";
import type { RequestFrame } from "../../transport/http_codec.ts";
import { httpReply, HttpResponder } from "../../transport/http_responder.ts";
import { FaultInjector, type FaultOptions, type FaultOutcome, NO_FAULTS } from "../sim/faults.ts";
import { Random } from "../sim/random.ts";
import {
  encodePollAnswer,
  encodePollResponse,
  type GaugeValues,
  TOOLWEB_PATH,
} from "./protocol.ts";
import { parseRequest, type ToolWebRequest } from "./text_decoder.ts";
import { fieldText, GaugeModel, type GaugeModelOptions, rawFields } from "./gauge_model.ts";
import { Waits } from "./wait_heap.ts";
import { PollAnswerLayout } from "./answer_bytes.ts";

/** The kinds of unparseable answer a `garbage` fault sends. */
export type GarbageKind = "truncated" | "noise" | "empty";

/** Settings of one simulated gauge (all optional; defaults are seeded and realistic). */
export interface GaugeOptions extends GaugeModelOptions {
  /** Fault injection, as for `sim://` devices. */
  faults?: FaultOptions;
  /** Raw EVID texts that replace computed ones, e.g. `{105: "13"}` to test a bad units index. */
  overrides?: Record<number, string>;
  /** Which garbage a `garbage` fault sends (default truncated XML and noise, both malformed). */
  garbage?: GarbageKind[];
  /** Called for every request as soon as its fate is decided (for `labwire sim --verbose`). */
  onRequest?: (event: PollEvent) => void;
  /**
   * Told when a connection cannot be accepted (out of descriptors): at most once every
   * {@linkcode ACCEPT_WARNING_MS} per process, since every gauge would say the same.
   */
  onWarning?: (message: string) => void;
}

/** What happened to one request a simulated gauge received. */
export interface PollEvent {
  /** The gauge's port. */
  port: number;
  /** Outcome: answered, or which fault, or a bad request. */
  outcome: "ok" | "timeout" | "error" | "garbage" | "disconnected" | "bad";
  /** HTTP status sent (0 when the request is held unanswered). */
  status: number;
  /** One line of detail for a log. */
  detail: string;
}

/** Longest a "timeout" or "disconnect" poll is held before the simulator lets go of it. */
export const HOLD_MAX_MS = 60_000;

/** The `V` elements of an answer (for `--verbose` lines only). */
function countV(body: string): number {
  return body.split("<V ").length - 1;
}

/** The path of a request target (`/path?query` or `http://host:port/path?query` → `/path`). */
function pathOf(target: string): string {
  const slash = target.startsWith("/") ? 0 : target.indexOf("/", target.indexOf("//") + 2);
  if (slash < 0) return "/";
  const q = target.indexOf("?", slash);
  return q < 0 ? target.slice(slash) : target.slice(slash, q);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const POST = encoder.encode("POST");
const PATH = encoder.encode(TOOLWEB_PATH);

/** True when bytes [start, end) of `b` are `want`. */
function bytesAre(b: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (b[start + i] !== want[i]) return false;
  return true;
}

/** EVIDs a simulated gauge answers (`fieldText` knows them). */
const FIELD_EVIDS = new Set([100, 101, 102, 103, 104, 105, 106, 107, 114, 208, 1103]);

const NOT_FOUND = `not found: ToolWeb answers POST ${TOOLWEB_PATH}\n`;
const NOT_ALLOWED = `method not allowed: ToolWeb answers POST ${TOOLWEB_PATH}\n`;

/** A request body as parsed: the request and the layout of its answer, or why it is bad. */
type Parsed =
  | { request: ToolWebRequest; layout: PollAnswerLayout; error?: undefined }
  | { error: DeviceError };

const waits = new Waits();
/** How often a process' simulators may say that accepting failed. */
export const ACCEPT_WARNING_MS = 10_000;
let lastAcceptWarning = -Infinity;
/** Where answers are written before they are copied out (one process-wide, used synchronously). */
let scratch = new Uint8Array(1024);

/** One running simulated gauge. */
export class BaratronSimulator {
  readonly model: GaugeModel;
  readonly faults: FaultInjector;
  #server: HttpResponder;
  /** The sample being answered, read by `#field`. */
  #values: GaugeValues | undefined;
  #restart: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #garbage: GarbageKind[];
  #garbageRandom: Random;
  #overrides: Map<number, string>;
  #lastBody: Uint8Array = new Uint8Array();
  #lastParsed: Parsed | undefined;
  #onRequest: ((event: PollEvent) => void) | undefined;
  #warn: ((message: string) => void) | undefined;
  /** Requests answered, by outcome (for logs and tests). */
  readonly counts = { ok: 0, timeout: 0, error: 0, garbage: 0, disconnected: 0, bad: 0 };

  /** Starts serving on `hostname:port` (port 0 = any free port). */
  constructor(readonly hostname: string, port: number, opts: GaugeOptions = {}) {
    const seed = opts.seed ?? 1;
    this.model = new GaugeModel(opts);
    this.faults = new FaultInjector(opts.faults ?? NO_FAULTS, new Random(seed * 7919 + 13));
    this.#garbageRandom = new Random(seed * 104729 + 7);
    this.#garbage = opts.garbage?.length ? opts.garbage : ["truncated", "noise"];
    this.#onRequest = opts.onRequest;
    this.#warn = opts.onWarning;
    this.#overrides = new Map(Object.entries(opts.overrides ?? {}).map(([k, v]) => [+k, v]));
    this.#server = this.#listen(port);
    this.port = this.#server.port;
  }

  /** The port served (fixed across disconnects). */
  readonly port: number;

  /** The `baratron://host:port` address of this gauge. */
  get address(): string {
    const host = this.hostname.includes(":") ? `[${this.hostname}]` : this.hostname;
    return `baratron://${host}:${this.port}`;
  }

  /** True while the gauge is "off the network" (its port refuses connections). */
  get disconnected(): boolean {
    return !this.#server.listening && !this.#closed;
  }

  #listen(port: number): HttpResponder {
    try {
      return new HttpResponder(this.hostname, port, this.#handle, {
        onAcceptError: (err) => this.#acceptFailed(err),
      });
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) {
        throw new UsageError(
          `cannot serve a gauge on ${this.hostname}:${port}: the port is in use`,
          "choose another --listen port, or port 0 for any free ports",
          { cause: err },
        );
      }
      if (err instanceof Deno.errors.AddrNotAvailable || err instanceof Deno.errors.NotFound) {
        throw new UsageError(
          `cannot serve a gauge on ${this.hostname}:${port}: no such local address`,
          "listen on 127.0.0.1, ::1, 0.0.0.0 or one of this computer's addresses",
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Accepting failed (the listener stays and tries again): said once in a while, not thrown. */
  #acceptFailed(err: unknown): void {
    const now = performance.now();
    if (now - lastAcceptWarning < ACCEPT_WARNING_MS) return;
    lastAcceptWarning = now;
    const why = err instanceof Error ? err.message : String(err);
    const limit = /too many open files/i.test(why)
      ? "; the process' open-file limit is reached: serve fewer gauges per process (--count) " +
        "or raise the limit (ulimit -n)"
      : "";
    this.#warn?.(`cannot accept a connection on ${this.hostname}:${this.port}: ${why}${limit}`);
  }

  #note(outcome: keyof BaratronSimulator["counts"], status: number, detail: string): void {
    this.counts[outcome]++;
    this.#onRequest?.({ port: this.port, outcome, status, detail });
  }

  /** Answers one request (bound once; the body is read before any wait). */
  readonly #handle = (
    req: RequestFrame,
    b: Uint8Array,
  ): Uint8Array | null | Promise<Uint8Array | null> => {
    const method = req.methodEnd - req.methodStart;
    if (!bytesAre(b, req.targetStart, req.targetEnd, PATH)) {
      const path = pathOf(decoder.decode(b.subarray(req.targetStart, req.targetEnd)));
      if (path !== TOOLWEB_PATH) {
        const m = decoder.decode(b.subarray(req.methodStart, req.methodEnd));
        this.#note("bad", 404, `${m} ${path}: wrong path`);
        return text(404, NOT_FOUND);
      }
    }
    if (!bytesAre(b, req.methodStart, req.methodStart + method, POST)) {
      const m = decoder.decode(b.subarray(req.methodStart, req.methodEnd));
      this.#note("bad", 405, `${m}: wrong method`);
      return text(405, NOT_ALLOWED, ["allow: POST"]);
    }
    const parsed = this.#parse(req.body, req.bodyStart, req.bodyEnd);
    const outcome = this.faults.decide();
    if (outcome === "disconnected") {
      this.#note(
        "disconnected",
        0,
        `off the network for ${this.faults.options.disconnectForMs} ms (this poll is not answered)`,
      );
      this.#goOffline();
      return this.#hold();
    }
    if (outcome === "timeout") {
      this.#note("timeout", 0, "not answered (the client will time out)");
      return this.#hold();
    }
    const delay = this.faults.delayMs();
    if (delay <= 0) return this.#answer(outcome, parsed);
    return waits.wait(this, delay).then(() => this.#closed ? null : this.#answer(outcome, parsed));
  };

  /** The request in bytes [start, end) of `b`: clients send the same poll every time, so its
   * bytes are compared with the last one's and parsed only when they differ. */
  #parse(b: Uint8Array, start: number, end: number): Parsed {
    const last = this.#lastParsed;
    if (last && bytesAre(b, start, end, this.#lastBody)) return last;
    let parsed: Parsed;
    try {
      const request = parseRequest(decoder.decode(b.subarray(start, end)));
      const layout = new PollAnswerLayout(
        request.items.map((i) => i.evid),
        (e) => FIELD_EVIDS.has(e) || this.#overrides.has(e),
      );
      parsed = { request, layout };
    } catch (err) {
      if (!(err instanceof DeviceError)) throw err;
      parsed = { error: err };
    }
    this.#lastBody = b.slice(start, end);
    this.#lastParsed = parsed;
    return parsed;
  }

  /**
   * The answer after the delay: an injected error or garbage, a 400 for a body that is not a
   * PollRequest, or the poll's answer.
   */
  #answer(outcome: FaultOutcome, parsed: Parsed): Uint8Array {
    if (outcome === "error") {
      this.#note("error", 500, "Internal Server Error");
      return text(500, "Internal Server Error\n");
    }
    if (outcome === "garbage") {
      const garbage = this.#garbageBody();
      this.#note("garbage", 200, `unparseable answer ${JSON.stringify(garbage.slice(0, 30))}`);
      return text(200, garbage, [], "text/xml");
    }
    if (parsed.error) {
      this.#note("bad", 400, parsed.error.message);
      return text(400, `bad request: ${parsed.error.message}\n`);
    }
    const { request, layout } = parsed;
    if (request.kind !== "PollRequest") {
      this.#note("bad", 400, `<${request.kind}> is not supported`);
      return text(
        400,
        `bad request: <${request.kind}> is not supported by the eBaratron simulator ` +
          `(it answers <PollRequest>)\n`,
      );
    }
    this.#values = this.model.sample();
    let answer: Uint8Array;
    if (this.#overrides.size > 0) {
      answer = text(200, encodePollAnswer(layout.evids, this.#field), [], "text/xml");
    } else {
      if (scratch.length < layout.size) scratch = new Uint8Array(layout.size);
      answer = layout.answer(this.#field, scratch);
    }
    this.#values = undefined;
    this.#note(
      "ok",
      200,
      this.#onRequest ? `${countV(decoder.decode(answer))} of ${request.items.length} EVIDs` : "",
    );
    return answer;
  }

  #garbageBody(): string {
    const r = this.#garbageRandom;
    const kind = this.#garbage[Math.floor(r.next() * this.#garbage.length)]!;
    if (kind === "empty") return "";
    if (kind === "noise") {
      return Array.from({ length: 24 }, () => String.fromCharCode(33 + Math.floor(r.next() * 90)))
        .join("").replace(/^</, "#");
    }
    const full = encodePollResponse(rawFields(this.model.sample()));
    return full.slice(0, Math.floor(full.length * r.uniform(0.3, 0.9)));
  }

  /**
   * Holds a request unanswered, as a gauge that went quiet: until the simulator closes, or at
   * most {@linkcode HOLD_MAX_MS} (far beyond any client's timeout); then the connection closes
   * without an answer.
   */
  #hold(): Promise<null> {
    return waits.wait(this, HOLD_MAX_MS).then(() => null);
  }

  /** The raw text of one EVID of the sample being answered (bound once, not per poll). */
  readonly #field = (evid: number): string => {
    const o = this.#overrides.size > 0 ? this.#overrides.get(evid) : undefined;
    return o ?? fieldText(evid, this.#values!, this.model) ?? "";
  };

  /** Stops listening for `disconnect_for`, then listens again on the same port. */
  #goOffline(): void {
    if (!this.#server.listening) return;
    // Not awaited: the held poll that went offline is answered (never) meanwhile.
    this.#server.pause();
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      if (this.#closed) return;
      try {
        this.#server.resume();
      } catch {
        // Someone took the port meanwhile: stay offline rather than crash the whole simulator.
      }
    }, this.faults.options.disconnectForMs);
  }

  /** Stops serving, releasing held requests and timers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restart !== undefined) clearTimeout(this.#restart);
    waits.release(this);
    await this.#server.close();
  }
}

/** A whole HTTP answer with a text body (not on the poll path: errors and faults). */
function text(
  status: number,
  body: string,
  extra: readonly string[] = [],
  type = "text/plain",
): Uint8Array {
  return httpReply(status, type, body, extra);
}

/** Options of {@linkcode startBaratronSimulators}. */
export interface SimulatorsOptions extends Omit<GaugeOptions, "seed" | "faults"> {
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
  /** First port; gauges use PORT…PORT+N−1. 0 (default) = any free ports. */
  port?: number;
  /** How many gauges (default 1). */
  count?: number;
  /** Faults applied to every gauge (each draws its own outcomes). */
  faults?: FaultOptions;
  /** Base seed; gauge i uses seed + i (default 1). */
  seed?: number;
}

/** A set of running simulated gauges. */
export interface BaratronSimulators {
  /** The gauges, in port order. */
  gauges: BaratronSimulator[];
  /** Their `baratron://host:port` addresses. */
  addresses: string[];
  /** Stops every gauge. */
  close(): Promise<void>;
}

/**
 * Serves `count` simulated gauges on consecutive ports from `port` (or any free ports when
 * `port` is 0). A port in use is a {@linkcode UsageError}; gauges already started are stopped.
 *
 * @example
 * ```ts
 * import { startBaratronSimulators } from "./simulator.ts";
 * const sims = await startBaratronSimulators({ count: 3, port: 0 });
 * await sims.close();
 * ```
 */
export async function startBaratronSimulators(
  opts: SimulatorsOptions = {},
): Promise<BaratronSimulators> {
  const { hostname = "127.0.0.1", port = 0, count = 1, seed = 1, faults, ...gauge } = opts;
  if (!Number.isInteger(count) || count < 1) {
    throw new UsageError(`--count: expected a whole number ≥ 1, got ${count}`);
  }
  if (port !== 0 && port + count - 1 > 65535) {
    throw new UsageError(
      `${count} gauges from port ${port} would go past port 65535`,
      "choose a lower --listen port or fewer gauges",
    );
  }
  const gauges: BaratronSimulator[] = [];
  try {
    for (let i = 0; i < count; i++) {
      gauges.push(
        new BaratronSimulator(hostname, port === 0 ? 0 : port + i, {
          ...gauge,
          seed: seed + i,
          faults,
        }),
      );
    }
  } catch (err) {
    await Promise.all(gauges.map((g) => g.close()));
    throw err;
  }
  return {
    gauges,
    addresses: gauges.map((g) => g.address),
    close: async () => {
      await Promise.all(gauges.map((g) => g.close()));
    },
  };
}
