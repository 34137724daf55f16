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
  encodePollAnswer,
  encodePollResponse,
  type GaugeValues,
  TOOLWEB_PATH,
} from "./protocol.ts";
import { parseRequest, type ToolWebRequest } from "./text_decoder.ts";
import { fieldText, GaugeModel, type GaugeModelOptions, rawFields } from "./gauge_model.ts";
import { Waits } from "./wait_heap.ts";

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

/** The path of a request URL (`http://host:port/path?query` → `/path`), without a URL object. */
function pathOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  if (slash < 0) return "/";
  const q = url.indexOf("?", slash);
  return q < 0 ? url.slice(slash) : url.slice(slash, q);
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
