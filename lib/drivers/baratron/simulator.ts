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
import { FaultInjector, type FaultOptions, NO_FAULTS } from "../sim/faults.ts";
import { Random } from "../sim/random.ts";
import {
  encodeFields,
  encodePollAnswer,
  encodePollResponse,
  type GaugeValues,
  TOOLWEB_PATH,
} from "./protocol.ts";
import { parseRequest, type ToolWebRequest } from "./text_decoder.ts";
import { ledColor, STATUS_BITS, systemStatus, UNITS, unitsIndex } from "./fields.ts";

/** The kinds of unparseable answer a `garbage` fault sends. */
export type GarbageKind = "truncated" | "noise" | "empty";

/** Settings of one simulated gauge (all optional; defaults are seeded and realistic). */
export interface GaugeOptions {
  /** Seed of the gauge's values and faults. */
  seed?: number;
  /** Fault injection, as for `sim://` devices. */
  faults?: FaultOptions;
  /** Pressure units name from the units table (default "torr"). */
  units?: string;
  /** Full-scale pressure in `units` (default: seeded among 10, 100, 1000). */
  fullScale?: number;
  /** Pressure the gauge hovers around (default: a seeded 0.1–60 % of full scale). */
  setpoint?: number;
  /** Warm-up time remaining at start, seconds (default 120; 0 = already warm). */
  warmupS?: number;
  /** Run time at start, seconds (default: a seeded 1–10 years of operation). */
  runSeconds?: number;
  /** Raw EVID texts that replace computed ones, e.g. `{105: "13"}` to test a bad units index. */
  overrides?: Record<number, string>;
  /** Which garbage a `garbage` fault sends (default truncated XML and noise, both malformed). */
  garbage?: GarbageKind[];
  /** Called for every request as soon as its fate is decided (for `labwire sim --verbose`). */
  onRequest?: (event: PollEvent) => void;
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

const SECONDS_PER_YEAR = 365.25 * 24 * 3600;
/** Drift beyond which the gauge recommends zeroing (the facts' example shows 0.00164 set). */
const ZEROING_DRIFT = 0.0015;
/** Status bits that turn the LED red (hardware faults rather than advice). */
const FAULT_BITS = [1, 2, 3, 4, 11, 26, 29];
/** Longest a "timeout" or "disconnect" poll is held before the simulator lets go of it. */
export const HOLD_MAX_MS = 60_000;
const BIT = Object.fromEntries(STATUS_BITS.map(([b, n]) => [n, b]));

/** The physics of one gauge: values as a function of elapsed time, advanced lazily. */
export class GaugeModel {
  readonly units: string;
  readonly fullScale: number;
  readonly setpoint: number;
  readonly warmupS: number;
  readonly runStartS: number;
  #random: Random;
  #t0: number;
  #last: number;
  #walk = 0;
  #drift: number;
  #driftRate: number;
  /** The LED bitmask of the latest sample (EVID 106 as sent). */
  ledMask = 0;
  /** The status bitmask of the latest sample (EVID 208 as sent). */
  statusMask = 0;

  /** Creates a gauge whose clock starts at `nowMs` (monotonic ms). */
  constructor(opts: GaugeOptions = {}, nowMs = performance.now()) {
    const r = this.#random = new Random(opts.seed ?? 1);
    this.units = opts.units ?? "torr";
    if (unitsIndex(this.units) === undefined) {
      throw new UsageError(
        `unknown pressure units "${this.units}"`,
        `use one of: ${UNITS.join(", ")}`,
      );
    }
    this.fullScale = opts.fullScale ?? [10, 100, 1000][Math.floor(r.next() * 3)]!;
    this.setpoint = opts.setpoint ?? this.fullScale * 10 ** r.uniform(-3, Math.log10(0.6));
    this.warmupS = opts.warmupS ?? 120;
    this.runStartS = opts.runSeconds ?? Math.round(r.uniform(1, 10) * SECONDS_PER_YEAR);
    this.#drift = r.uniform(0, 0.002);
    this.#driftRate = r.uniform(-2e-8, 5e-8);
    this.#t0 = this.#last = nowMs;
  }

  /** The gauge's values at `nowMs` (monotonic ms, not earlier than the previous call). */
  sample(nowMs = performance.now()): GaugeValues {
    const dt = Math.max(0, nowMs - this.#last) / 1000;
    this.#last = Math.max(this.#last, nowMs);
    const r = this.#random;
    // Ornstein–Uhlenbeck wander (±0.5 % of the setpoint, 30 s correlation) plus reading noise.
    const tau = 30;
    const a = Math.exp(-dt / tau);
    this.#walk = this.#walk * a + 0.005 * Math.sqrt(1 - a * a) * r.gauss();
    this.#drift += this.#driftRate * dt;
    const elapsed = (this.#last - this.#t0) / 1000;
    const wait = Math.max(0, this.warmupS - elapsed);
    // A cold sensor reads a little high, settling as it warms.
    const warmBias = this.warmupS > 0 ? 0.02 * (wait / this.warmupS) : 0;
    const noise = r.gauss(0, this.fullScale * 2e-6);
    const pressure = Math.max(0, this.setpoint * (1 + this.#walk + warmBias) + noise);
    // Status is decided on the drift as reported, so the two never disagree.
    const drift = round(this.#drift, 5);
    let status = 0;
    if (Math.abs(drift) > ZEROING_DRIFT) {
      status += 2 ** BIT["e-Baratron Zeroing Recommended"]!;
    }
    if (pressure > 1.1 * this.fullScale) status += 2 ** BIT["e-Baratron Over 110% of FS"]!;
    const fault = FAULT_BITS.some((b) => Math.floor(status / 2 ** b) % 2 === 1);
    const led = fault ? 1 : wait > 0 ? 4 + 16 : 2;
    this.ledMask = led;
    this.statusMask = status;
    return {
      pressure: round(pressure, 6),
      pressure_units: this.units,
      full_scale_pressure: this.fullScale,
      led_color: ledColor(led),
      run_hours: Math.round(this.runStartS + elapsed) / 3600,
      wait_hours: Math.round(wait) / 3600,
      drift,
      system_status: systemStatus(status),
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Raw EVID texts of a sample, including the optional early-client fields. */
function rawFields(v: GaugeValues): Map<number, string> {
  const raw = encodeFields(v);
  // Hours were seconds on the wire; keep them whole seconds as the device does.
  raw.set(102, String(Math.round(v.run_hours * 3600)));
  raw.set(107, String(Math.round(v.wait_hours * 3600)));
  raw.set(101, String(v.pressure));
  raw.set(103, String(round(v.pressure / v.full_scale_pressure, 7)));
  raw.set(104, String(round(v.pressure / v.full_scale_pressure, 7)));
  return raw;
}

/** The raw text of one EVID of a sample, as `rawFields` gives it; undefined if not a field. */
function fieldText(evid: number, v: GaugeValues, model: GaugeModel): string | undefined {
  switch (evid) {
    case 100:
    case 101:
      return String(v.pressure);
    case 102:
      return String(Math.round(v.run_hours * 3600));
    case 103:
    case 104:
      return String(round(v.pressure / v.full_scale_pressure, 7));
    case 105:
      return String(unitsIndex(v.pressure_units));
    case 106:
      return String(model.ledMask);
    case 107:
      return String(Math.round(v.wait_hours * 3600));
    case 114:
      return String(v.drift);
    case 208:
      return String(model.statusMask);
    case 1103:
      return String(v.full_scale_pressure);
  }
  return undefined;
}

/** The `V` elements of an answer (for `--verbose` lines only). */
function countV(body: string): number {
  return body.split("<V ").length - 1;
}

/** The path of a request URL (`http://host:port/path?query` → `/path`), without a URL object. */
function pathOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  if (slash < 0) return "/";
  const q = url.indexOf("?", slash);
  return q < 0 ? url.slice(slash) : url.slice(slash, q);
}

/** One gauge's wait: a delayed answer or a held poll. */
interface Wait {
  at: number;
  resolve: () => void;
  owner: object;
}

/**
 * The waits of every simulated gauge in the process (answer latency, held polls) on one timer,
 * kept in a binary heap by due time: a timer, a closure and a set entry per answered poll cost
 * the simulator more than building the answer.
 */
class Waits {
  #heap: Wait[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /** Resolves after `ms`, or when `owner` releases its waits. */
  wait(owner: object, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const w: Wait = { at: performance.now() + ms, resolve, owner };
      const heap = this.#heap;
      let i = heap.push(w) - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent]!.at <= w.at) break;
        heap[i] = heap[parent]!;
        i = parent;
      }
      heap[i] = w;
      if (w.at < this.#timerAt) this.#arm(w.at);
    });
  }

  /** Ends every wait of `owner` now (its gauge closes). */
  release(owner: object): void {
    const mine = this.#heap.filter((w) => w.owner === owner);
    if (mine.length === 0) return;
    const rest = this.#heap.filter((w) => w.owner !== owner).sort((a, b) => a.at - b.at);
    this.#heap = rest; // a sorted array is a heap
    for (const w of mine) w.resolve();
    if (rest.length === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
    }
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#due, Math.max(0, at - performance.now()));
  }

  readonly #due = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.at <= now) this.#pop().resolve();
    if (heap.length > 0) this.#arm(heap[0]!.at);
  };

  #pop(): Wait {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && heap[r]!.at < heap[l]!.at ? r : l;
        if (heap[c]!.at >= last.at) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

const waits = new Waits();

/** One running simulated gauge. */
export class BaratronSimulator {
  readonly model: GaugeModel;
  readonly faults: FaultInjector;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  /** The sample being answered, read by `#field`. */
  #values: GaugeValues | undefined;
  #restart: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #garbage: GarbageKind[];
  #garbageRandom: Random;
  #overrides: Map<number, string>;
  #lastBody = "";
  #onRequest: ((event: PollEvent) => void) | undefined;
  #lastRequest: ToolWebRequest | undefined;
  #lastEvids: number[] = [];
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
    this.#overrides = new Map(Object.entries(opts.overrides ?? {}).map(([k, v]) => [+k, v]));
    this.#server = this.#listen(port);
    this.port = this.#server.addr.port;
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
    return this.#server === undefined && !this.#closed;
  }

  #listen(port: number): Deno.HttpServer<Deno.NetAddr> {
    try {
      return Deno.serve({
        hostname: this.hostname,
        port,
        onListen() {},
        onError: () => new Response("Internal Server Error", { status: 500 }),
      }, (req) => this.#handle(req));
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

  #note(outcome: keyof BaratronSimulator["counts"], status: number, detail: string): void {
    this.counts[outcome]++;
    this.#onRequest?.({ port: this.port, outcome, status, detail });
  }

  async #handle(req: Request): Promise<Response> {
    const path = pathOf(req.url);
    if (path !== TOOLWEB_PATH) {
      this.#note("bad", 404, `${req.method} ${path}: wrong path`);
      return text(404, `not found: ToolWeb answers POST ${TOOLWEB_PATH}\n`);
    }
    if (req.method !== "POST") {
      this.#note("bad", 405, `${req.method}: wrong method`);
      return text(405, `method not allowed: ToolWeb answers POST ${TOOLWEB_PATH}\n`, {
        allow: "POST",
      });
    }
    const body = await req.text();
    const outcome = this.faults.decide();
    if (outcome === "disconnected") {
      this.#note(
        "disconnected",
        0,
        `off the network for ${this.faults.options.disconnectForMs} ms (this poll is not answered)`,
      );
      this.#goOffline();
      await this.#hold();
      return text(503, "offline\n");
    }
    if (outcome === "timeout") {
      this.#note("timeout", 0, "not answered (the client will time out)");
      await this.#hold();
      return text(503, "late\n");
    }
    const delay = this.faults.delayMs();
    if (delay > 0) await this.#sleep(delay);
    if (outcome === "error") {
      this.#note("error", 500, "Internal Server Error");
      return text(500, "Internal Server Error\n");
    }
    if (outcome === "garbage") {
      const garbage = this.#garbageBody();
      this.#note("garbage", 200, `unparseable answer ${JSON.stringify(garbage.slice(0, 30))}`);
      return xml(garbage);
    }
    let request = body === this.#lastBody ? this.#lastRequest : undefined;
    try {
      // Clients send the same poll every time: parse it once.
      if (!request) {
        request = parseRequest(body);
        this.#lastEvids = request.items.map((i) => i.evid);
      }
      this.#lastBody = body;
      this.#lastRequest = request;
    } catch (err) {
      if (!(err instanceof DeviceError)) throw err;
      this.#note("bad", 400, err.message);
      return text(400, `bad request: ${err.message}\n`);
    }
    if (request.kind !== "PollRequest") {
      this.#note("bad", 400, `<${request.kind}> is not supported`);
      return text(
        400,
        `bad request: <${request.kind}> is not supported by the eBaratron simulator ` +
          `(it answers <PollRequest>)\n`,
      );
    }
    this.#values = this.model.sample();
    // Only the EVIDs asked for, in the order asked; EVIDs the gauge does not have are left out.
    const answer = encodePollAnswer(this.#lastEvids, this.#field);
    this.#values = undefined;
    this.#note(
      "ok",
      200,
      this.#onRequest ? `${countV(answer)} of ${request.items.length} EVIDs` : "",
    );
    return xml(answer);
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
   * most {@linkcode HOLD_MAX_MS} (far beyond any client's timeout). `req.signal` is not used:
   * merely touching it makes Deno print a legacy-abort warning on stderr.
   */
  #hold(): Promise<void> {
    return this.#sleep(HOLD_MAX_MS);
  }

  #sleep(ms: number): Promise<void> {
    return waits.wait(this, ms);
  }

  /** The raw text of one EVID of the sample being answered (bound once, not per poll). */
  readonly #field = (evid: number): string | undefined => {
    const o = this.#overrides.size > 0 ? this.#overrides.get(evid) : undefined;
    return o ?? fieldText(evid, this.#values!, this.model);
  };

  /** Stops listening for `disconnect_for`, then listens again on the same port. */
  #goOffline(): void {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    // Not awaited: held requests finish when their clients give up.
    server.shutdown().catch(() => {});
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      if (this.#closed) return;
      try {
        this.#server = this.#listen(this.port);
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
    const server = this.#server;
    this.#server = undefined;
    await server?.shutdown();
  }
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain", ...headers } });
}

/** The init of every XML answer: one object, not one per answer. */
const XML_INIT: ResponseInit = { headers: { "content-type": "text/xml" } };

function xml(body: string): Response {
  return new Response(body, XML_INIT);
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
