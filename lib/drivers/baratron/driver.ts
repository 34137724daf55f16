/**
 * The MKS eBaratron driver, `baratron://HOST[:PORT]`: one ToolWeb poll per read (all eight
 * fields in one request), default timeout 1 s (`?timeout=2s` to change it), and a
 * {@linkcode DeviceError} saying what was tried for every failure — never a stack trace.
 *
 * @example
 * ```ts ignore
 * import { baratronDriver } from "./driver.ts";
 * import { parseAddress } from "../../device/address.ts";
 * const gauge = await baratronDriver.open(parseAddress("baratron://10.0.0.5"), { name: "g", options: {} });
 * console.log(await gauge.read()); // { pressure: 3.78864, pressure_units: "torr", … }
 * await gauge.close();
 * ```
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import { checkAddressOptions } from "../../config/options.ts";
import { type Attr, attr, findAttr, type Values } from "../../device/attr.ts";
import type { CallOptions, Device } from "../../device/device.ts";
import { DeviceError, UsageError, WriteRejected } from "../../device/errors.ts";
import type { Driver, OpenContext } from "../../device/registry.ts";
import { BARATRON_INFO, BARATRON_OPTIONS, toolWebHost } from "./driver_info.ts";
import { HttpClient, type RequestOptions } from "../../transport/http.ts";
import type { AnswerFrame } from "../../transport/http_codec.ts";
import { textOf } from "../../transport/http_framing.ts";
import { decodePollBytes } from "./byte_decoder.ts";
import { type GaugeValues, POLL_REQUEST, TOOLWEB_PATH } from "./protocol.ts";

/** Default per-call timeout, as in the reference client. */
export const DEFAULT_TIMEOUT_MS = 1000;

/** Request headers of a poll; one object, so the HTTP client reuses the encoded request. */
const POLL_HEADERS = { "content-type": "text/xml" };

/** The attributes of a gauge; the pressure's units are filled in from the device. */
function gaugeAttrs(units?: string): Attr[] {
  return [
    attr("pressure", "number", {
      units,
      precision: 6,
      description: "pressure, in pressure_units (the gauge's units setting can change)",
    }),
    attr("pressure_units", "string", { description: "units of pressure and full_scale_pressure" }),
    attr("full_scale_pressure", "number", {
      units,
      description: "full-scale pressure of the sensor",
    }),
    attr("led_color", "string", {
      description: 'front LED: red, green, yellow, "blinking", or "unknown"',
    }),
    attr("run_hours", "number", { units: "h", precision: 3, description: "hours of operation" }),
    attr("wait_hours", "number", {
      units: "h",
      precision: 3,
      description: "warm-up time remaining (0 when ready)",
    }),
    attr("drift", "number", { precision: 5, description: "zero drift" }),
    attr("system_status", "string", {
      description: 'status flags joined with ", ", or "ok"',
    }),
  ];
}

const ATTRS = gaugeAttrs();

/**
 * The attribute lists handed out, one per pressure unit: every gauge in the same units shares
 * one list (they are read, never changed; units come from a table of 13), not eight objects per
 * gauge (~0.7 KB each of 1,000).
 */
const attrsByUnits = new Map<string | undefined, Attr[]>([[undefined, ATTRS]]);

function sharedAttrs(units: string | undefined): Attr[] {
  let attrs = attrsByUnits.get(units);
  if (attrs === undefined) attrsByUnits.set(units, attrs = gaugeAttrs(units));
  return attrs;
}

/** Splits a `baratron://` target into the URL to POST to and the device's default name. */
export function toolWebUrl(address: Address): { origin: string; url: string; name: string } {
  const { origin, name } = toolWebHost(address);
  return { origin, url: `${origin}${TOOLWEB_PATH}`, name };
}

/** One eBaratron gauge reached over ToolWeb. */
export class BaratronGauge implements Device {
  readonly driver = "baratron";
  readonly url: string;
  #client: HttpClient;
  #closed = false;
  #units: string | undefined;
  #lastOptions: RequestOptions | undefined;

  /** Opens a gauge at `origin` (no I/O happens until the first read). */
  constructor(
    readonly name: string,
    readonly address: string,
    origin: string,
    readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ) {
    this.#client = new HttpClient(origin, { device: name });
    this.url = `${this.#client.origin}${TOOLWEB_PATH}`;
  }

  /** The attribute schema; polls once (errors ignored) to learn the pressure units. */
  async attrs(opts?: CallOptions): Promise<Attr[]> {
    if (this.#units === undefined) {
      try {
        await this.poll(opts);
      } catch (err) {
        if (opts?.signal?.aborted) throw err;
        // The schema is still useful without units; a read will report the failure.
      }
    }
    return sharedAttrs(this.#units);
  }

  /** Polls every field once and returns the requested ones (all by default). */
  read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    // A decoded poll has every field in declaration order already: hand it on as it is (no
    // async frame or copy per poll for the common read of everything).
    if (names === undefined) return this.poll(opts);
    return this.#readSome(names, opts);
  }

  /**
   * Polls like {@linkcode read}, the values to `done` or the failure to `failed` (no promise);
   * the timeout counts from `at`, the read's start as the caller timed it (one clock read a poll
   * less).
   */
  readTo(
    names: readonly string[] | undefined,
    opts: CallOptions | undefined,
    done: (values: Values) => void,
    failed: (err: unknown) => void,
    at?: number,
  ): void {
    if (names !== undefined) this.#readSome(names, opts).then(done, failed);
    else this.#pollTo(opts, done, failed, at);
  }

  async #readSome(names: readonly string[], opts?: CallOptions): Promise<Values> {
    for (const n of names) findAttr(ATTRS, n, this.name);
    const values = await this.poll(opts);
    const out: Values = {};
    // Keys in declaration order, whatever order the gauge answered in.
    for (const n of names) out[n] = values[n as keyof GaugeValues];
    return out;
  }

  /** The gauge has no writable attributes. */
  write(name: string): Promise<void> {
    return Promise.reject(new WriteRejected(`${name} is read-only on a baratron gauge`, name));
  }

  /** No techniques beyond sampling. */
  techniques(): string[] {
    return [];
  }

  /** Sends one PollRequest and decodes the answer. */
  poll(opts?: CallOptions): Promise<GaugeValues> {
    return new Promise((resolve, reject) => this.#pollTo(opts, resolve, reject));
  }

  /**
   * Sends one PollRequest, the decoded values to `done` or the failure to `failed`; its timeout
   * counts from `at` when given.
   */
  #pollTo(
    opts: CallOptions | undefined,
    done: (values: GaugeValues) => void,
    failed: (err: unknown) => void,
    at?: number,
  ): void {
    if (this.#closed) {
      failed(new DeviceError(`${this.name} is closed`, this.name));
      return;
    }
    this.#client.exchangeTo(
      "POST",
      TOOLWEB_PATH,
      POLL_REQUEST,
      this.#requestOptions(opts?.timeout ?? this.timeoutMs, opts?.signal),
      this.#decode,
      done,
      failed,
      at,
    );
  }

  /**
   * The request's options: the last poll's object while its timeout and signal stay the same (a
   * sampler polls with one signal for the whole run), not a new one per poll. The HTTP client
   * only reads them.
   */
  #requestOptions(timeout: number, signal: AbortSignal | undefined): RequestOptions {
    const last = this.#lastOptions;
    if (last !== undefined && last.timeout === timeout && last.signal === signal) return last;
    return this.#lastOptions = { timeout, signal, headers: POLL_HEADERS };
  }

  /**
   * Decodes a poll's answer from the bytes received, before the connection reuses them (bound
   * once: no closure per poll; no text of the answer unless it is an error).
   */
  readonly #decode = (f: AnswerFrame): GaugeValues => {
    const { status } = f;
    if (status !== 200) {
      const body = textOf(f.body, f.bodyStart, f.bodyEnd).trim().slice(0, 80);
      throw new DeviceError(
        `POST ${this.url}: HTTP ${status}${body ? ` (${JSON.stringify(body)})` : ""}; ` +
          `the gauge did not accept the poll: check that this address is an eBaratron's ToolWeb`,
        this.name,
      );
    }
    try {
      const values = decodePollBytes(f.body, f.bodyStart, f.bodyEnd, this.name);
      this.#units = values.pressure_units;
      return values;
    } catch (err) {
      if (!(err instanceof DeviceError)) throw err;
      throw new DeviceError(`POST ${this.url}: ${err.message}`, this.name, { cause: err });
    }
  };

  /** Closes the connection. */
  close(): Promise<void> {
    this.#closed = true;
    this.#client.close();
    return Promise.resolve();
  }
}

/** The `baratron://` driver. */
export const baratronDriver: Driver = {
  ...BARATRON_INFO,
  open(address: Address, ctx: OpenContext): Promise<Device> {
    try {
      checkAddressOptions(address, ctx.options, BARATRON_OPTIONS);
    } catch (err) {
      return Promise.reject(err);
    }
    try {
      const { origin } = toolWebUrl(address);
      return Promise.resolve(
        new BaratronGauge(ctx.name, address.text, origin, ctx.timeout ?? DEFAULT_TIMEOUT_MS),
      );
    } catch (err) {
      return Promise.reject(
        err instanceof UsageError
          ? new UsageError(
            `${address.text}: ${err.message}`,
            "write it like baratron://10.0.0.5, baratron://10.0.0.5:8081 or baratron://[::1]:8081",
          )
          : err,
      );
    }
  },
};
