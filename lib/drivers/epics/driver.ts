/**
 * The `ca://PVNAME` driver: one EPICS process variable as a labwire device, over Channel Access
 * in pure TypeScript (no libca). `labwire read ca://XXX:m1.VAL` is caget, `--describe` is
 * cainfo, `labwire write` is caput (`--wait` waits for completion, as `caput -c`), and
 * `labwire stream` is camonitor: a CA monitor pushes every change, nothing is polled.
 *
 * Attribute mapping (one device per PV; keys are stable, whatever the PV is called):
 * - `value` — the PV's value, typed from the native DBR type: DOUBLE/FLOAT → `number` (with
 *   `precision`), SHORT/LONG/CHAR → `integer`, ENUM → `enum` with the state strings as `options`
 *   (read as strings, written by name or by index as `caput` does), STRING → `string`, arrays
 *   (waveforms) → `number[]`; a CHAR waveform holding text (or a name ending in `$`, a long
 *   string field such as `REC.DESC$`) → `string`, as pyepics' `as_string` (see
 *   `driver_values.ts`; `?as_string=1|0` forces either). `units` come from DBR_CTRL, `min`/`max`
 *   from the control limits (DRVL/DRVH) when they are set, `limits` (display, warning, alarm,
 *   control) and `elements` as cainfo and `caget -d DBR_CTRL_DOUBLE` show them, `rw` from the
 *   server's access rights: a write to a read-only PV is refused before anything is sent.
 * - `severity` — alarm severity: NO_ALARM, MINOR, MAJOR or INVALID.
 * - `status` — alarm condition: NO_ALARM, HIHI, HIGH, LOW, LOLO, STATE, COMM, UDF, …
 * - `timestamp` — the server's record timestamp, Unix seconds (not in the default reading; the
 *   readings pushed by `subscribe` carry it as their `t`).
 *
 * While a monitored PV is disconnected, `subscribe` pushes `value: null` with INVALID/COMM, as
 * EPICS does for a broken link; updates resume by themselves when the server is back.
 *
 * Writes: by default the value goes with WRITE_NOTIFY, `write()` returns once the request is
 * sent, and {@linkcode Device.isMoving} is true until the server reports completion — so a
 * `--wait` loop on `isMoving` (scans, `write --wait`) waits for a motor to arrive. Passing
 * `{ wait: true }` in the call options (or the address option `?wait=1`, or `wait = true` in the
 * config) makes `write()` itself resolve only on completion (`caput -c`); `{ sendOnly: true }`
 * (`labwire write` without `--wait`) sends a plain WRITE that nothing tracks, as `caput` does.
 *
 * Address options: `?timeout=2s` (per call, default 5 s), `?wait=1`, `?as_string=1|0`. With
 * `pvs` or `motor` (config keys or `?motor=1&pvs=position=:VAL,…`) the target is a prefix and
 * the device is made of several PVs (`./pv_device.ts`). All devices of a process
 * share one CA client (one search socket, one TCP circuit per server); it reads
 * EPICS_CA_ADDR_LIST, EPICS_CA_AUTO_ADDR_LIST, EPICS_CA_SERVER_PORT and friends (see `client_env.ts`).
 *
 * @module
 */
import { type Address, hasOptions } from "../../device/address.ts";
import { checkAddressOptions, isEmpty } from "../../config/options.ts";
import { type Attr, attr, type Value, type Values } from "../../device/attr.ts";
import {
  type CallOptions,
  type Device,
  formatMs,
  nowSeconds,
  type Subscription,
} from "../../device/device.ts";
import { DeviceError, TimeoutError, UsageError, WriteRejected } from "../../device/errors.ts";
import type { Driver, OpenContext } from "../../device/registry.ts";
import { CA_DEFAULT_TIMEOUT_MS, CA_INFO } from "./driver_info.ts";
import { acquireSharedClient, type CaClient, releaseSharedClient } from "./client.ts";
import { deadlines } from "../../transport/deadline.ts";
import type { Channel } from "./client_channel.ts";
import { type Abortable, CallAbort, raceAbortable } from "./client_abort.ts";
import type { GetResult } from "./client_circuit.ts";
import { type DbrData } from "./dbr.ts";
import { ALARM_STATUS_NAMES, DBR, dbrOf, epicsToUnix, SEVERITY_NAMES } from "./dbr_types.ts";
import { type CharMode, pvValue, sizeProblem, valueAttr } from "./driver_values.ts";
import { PvDevice } from "./pv_device.ts";
import { CA_OPTIONS, devicePvs, type PvSpec } from "./options.ts";

/** Call options a `ca://` device understands beyond the common ones. */
export interface CaCallOptions extends CallOptions {
  /** For `write`: resolve only when the server reports the write complete (WRITE_NOTIFY). */
  wait?: boolean;
}

/** A PV opened through the `ca://` driver. */
export class CaDevice implements Device {
  readonly driver = "ca";
  #client: CaClient;
  #channel: Channel;
  #timeout: number;
  #wait: boolean;
  #meta: DbrData | undefined;
  #metaFetch: Promise<DbrData> | undefined;
  // Writes still being completed; made by the first write (most devices only read).
  #puts: Set<Promise<void>> | undefined;
  #putError: Error | undefined;
  #closed = false;
  #charMode: CharMode;
  #ownsClient: boolean;

  /** Opens (lazily: the search starts now, calls wait for the connection) the PV `pv`. */
  constructor(
    readonly name: string,
    readonly address: string,
    readonly pv: string,
    opts: { timeout?: number; wait?: boolean; charMode?: CharMode; client?: CaClient } = {},
  ) {
    this.#client = opts.client ?? acquireSharedClient();
    this.#ownsClient = opts.client === undefined;
    this.#timeout = opts.timeout ?? CA_DEFAULT_TIMEOUT_MS;
    this.#wait = opts.wait ?? false;
    // A long-string field (`REC.DESC$`) is text whatever it holds.
    this.#charMode = opts.charMode ?? (pv.endsWith("$") ? "string" : "auto");
    this.#channel = this.#client.channel(pv);
    // Metadata may change when the server restarts (a new database): fetch it again.
    this.#channel.onStateChange((s) => {
      if (s !== "connected") {
        this.#meta = undefined;
        this.#metaFetch = undefined;
      }
    });
  }

  /** The underlying channel (state, native type, server), for diagnostics and tests. */
  get channel(): Channel {
    return this.#channel;
  }

  /** Resolves once the channel is connected (no async frame of its own). */
  #connected(signal: Abortable): Promise<void> {
    return this.#channel.connected(signal);
  }

  /**
   * Runs `fn` under the call's deadline, with a message saying whether the PV was ever found.
   * The deadline is an entry of the process' one deadline timer rather than a timer per call (a
   * `labwire read` of a thousand PVs arms one timer, not a thousand), and `fn` must honour the
   * abort itself: every channel call here does. The abort is a {@linkcode CallAbort}, not an
   * AbortController: the channel's waits hook it without event listeners.
   */
  async #call<T>(
    opts: CallOptions | undefined,
    what: string,
    fn: (signal: CallAbort) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new DeviceError(`${this.address} is closed`, this.name);
    const timeoutMs = opts?.timeout ?? this.#timeout;
    const call = new DeadlineAbort(what, this.pv, timeoutMs, this.name);
    // The deadline fires the call's own method: no closure per call.
    const deadline = deadlines.add(timeoutMs, call.expire, call);
    const outer = opts?.signal;
    const onAbort = outer ? () => call.abort(outer.reason) : undefined;
    if (outer?.aborted) call.abort(outer.reason);
    else if (outer) outer.addEventListener("abort", onAbort!, { once: true });
    try {
      return await fn(call);
    } catch (err) {
      if (err instanceof TimeoutError && this.#channel.state === "searching") {
        const o = this.#client.options;
        const where = [
          o.addrList.length ? `EPICS_CA_ADDR_LIST="${o.addrList.join(" ")}"` : "",
          `EPICS_CA_AUTO_ADDR_LIST=${o.autoAddrList ? "YES" : "NO"}`,
          `port ${o.serverPort}`,
        ].filter(Boolean).join(", ");
        throw new TimeoutError(
          `PV ${this.pv} not found: no CA server answered the search within ${
            formatMs(opts?.timeout ?? this.#timeout)
          } (${where}); check the name and EPICS_CA_ADDR_LIST`,
          this.name,
        );
      }
      throw err;
    } finally {
      deadlines.remove(deadline);
      if (outer) outer.removeEventListener("abort", onAbort!);
    }
  }

  /** DBR_CTRL metadata of the current connection (fetched once per connection). */
  #metadata(signal: Abortable): Promise<DbrData> {
    if (this.#meta) return Promise.resolve(this.#meta);
    this.#metaFetch ??= (async () => {
      await this.#connected(signal);
      const ch = this.#channel;
      const native = ch.nativeType;
      // A CHAR waveform's content decides whether it reads as text (auto): fetch it too.
      const count = native === DBR.CHAR && ch.nativeCount > 1 ? undefined : 1;
      const r = await ch.get({ type: dbrOf("ctrl", native), count, signal });
      this.#meta = r.data;
      return r.data;
    })().catch((err) => {
      this.#metaFetch = undefined;
      throw err;
    });
    // A fetch started by another call follows that call's signal: this one answers to its own.
    return raceAbortable(this.#metaFetch, signal);
  }

  /** The attributes (needs the connection and the PV's DBR_CTRL metadata). */
  attrs(opts?: CallOptions): Promise<Attr[]> {
    return this.#call(opts, "describing", async (signal) => {
      const meta = await this.#metadata(signal);
      return this.#buildAttrs(meta);
    });
  }

  #buildAttrs(meta: DbrData): Attr[] {
    const value = valueAttr(this.pv, this.#channel, meta, this.#charMode);
    return [
      value,
      attr("severity", "enum", {
        options: [...SEVERITY_NAMES],
        description: "alarm severity of the PV",
      }),
      attr("status", "enum", {
        options: [...ALARM_STATUS_NAMES],
        description: "alarm condition of the PV",
      }),
      attr("timestamp", "number", {
        status: false,
        units: "s",
        precision: 6,
        description: "the server's timestamp of the value, Unix seconds",
      }),
    ];
  }

  /** Converts a TIME-family result into attribute values. */
  #values(r: GetResult, meta: DbrData | undefined): Values {
    const d = r.data;
    return {
      value: pvValue(this.#channel, d, meta, this.#charMode),
      severity: SEVERITY_NAMES[d.severity ?? 0] ?? String(d.severity),
      status: ALARM_STATUS_NAMES[d.status ?? 0] ?? String(d.status),
      timestamp: d.secondsPastEpoch ? epicsToUnix(d.secondsPastEpoch, d.nanoseconds) : null,
    };
  }

  /** Reads the PV (value, alarm severity and status, timestamp) in one DBR_TIME request. */
  read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    return this.#call(opts, "reading", async (signal) => {
      if (this.#channel.state !== "connected") await this.#connected(signal);
      const native = this.#channel.nativeType;
      const get = this.#channel.get({ type: dbrOf("time", native), signal });
      if (native !== DBR.ENUM) return pick(this.#values(await get, this.#meta), names, this.pv);
      // An enum's state strings come with the metadata: fetched beside the value, once.
      const [r, meta] = await Promise.all([get, this.#metadata(signal)]);
      return pick(this.#values(r, meta), names, this.pv);
    });
  }

  /**
   * Writes `value` (only `value` is writable). See the module doc for the two completion modes.
   */
  write(name: string, value: Value, opts?: CaCallOptions): Promise<void> {
    if (name !== "value") {
      return Promise.reject(
        new UsageError(`${this.name}: only "value" can be written (not "${name}")`),
      );
    }
    if (value === null) return Promise.reject(new UsageError(`${this.name}: nothing to write`));
    const wait = opts?.wait ?? this.#wait;
    return this.#call(opts, "writing", async (signal) => {
      await this.#connected(signal);
      const pending = this.#putError;
      this.#putError = undefined;
      if (pending) throw pending;
      // A string to a long-string ($) field goes as its bytes: the client does that for CHAR arrays.
      const v = value;
      const tooBig = sizeProblem(this.pv, this.#channel, v);
      if (tooBig) throw new WriteRejected(`${name}: ${tooBig}`, name);
      if (wait) {
        await this.#channel.put(v, { notify: true, signal });
        return;
      }
      if (opts?.sendOnly) {
        // caput without -c: a plain WRITE, done once it is on the socket.
        await this.#channel.startPut(v, { notify: false });
        return;
      }
      // Not waiting: completion is tracked for isMoving(); a failure is reported by the next call.
      const done = this.#channel.startPut(v, { notify: true }).catch((err) => {
        if (!this.#closed) this.#putError = err;
      });
      const puts = this.#puts ??= new Set();
      puts.add(done);
      void done.finally(() => puts.delete(done));
    });
  }

  /** True while a write is still being completed by the server (e.g. a motor moving). */
  isMoving(_opts?: CallOptions): Promise<boolean> {
    const err = this.#putError;
    if (err) {
      this.#putError = undefined;
      return Promise.reject(err);
    }
    return Promise.resolve((this.#puts?.size ?? 0) > 0);
  }

  /** No techniques beyond the generic ones. */
  techniques(): string[] {
    return [];
  }

  /**
   * Pushes the PV's changes through a CA monitor (DBE_VALUE | DBE_ALARM): the first call is the
   * current value, then one per change; `t` is the server's timestamp.
   */
  async subscribe(
    names: readonly string[] | undefined,
    onValues: (values: Values, t: number) => void,
    opts?: CallOptions,
  ): Promise<Subscription> {
    const wanted = names ?? ["value", "severity", "status"];
    pick({ value: 0, severity: 0, status: 0, timestamp: 0 }, wanted, this.pv);
    await this.#call(opts, "subscribing to", async (signal) => {
      await this.#connected(signal);
      if (this.#channel.nativeType === DBR.ENUM) await this.#metadata(signal);
    });
    const ch = this.#channel;
    const monitor = ch.subscribe(
      { type: dbrOf("time", ch.nativeType) },
      (r) => {
        if (ch.nativeType === DBR.ENUM && !this.#meta) {
          // After a reconnection: fetch the state strings again before going on.
          this.#metadata(AbortSignal.timeout(this.#timeout)).then(
            (meta) => emit(r, meta),
            () => emit(r, undefined),
          );
          return;
        }
        emit(r, this.#meta);
      },
    );
    const emit = (r: GetResult, meta: DbrData | undefined) => {
      const values = this.#values(r, meta);
      const stamp = values.timestamp as number | null;
      const t = stamp ? Math.round(stamp * 1000) / 1000 : nowSeconds();
      onValues(pick(values, wanted, this.pv), t);
    };
    const stopWatching = ch.onStateChange((s) => {
      if (s === "searching") {
        onValues(
          pick(
            { value: null, severity: "INVALID", status: "COMM", timestamp: null },
            wanted,
            this.pv,
          ),
          nowSeconds(),
        );
      }
    });
    return {
      close: () => {
        stopWatching();
        monitor.close();
        return Promise.resolve();
      },
    };
  }

  /** Closes the channel; the shared client closes with its last device. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel.close();
    if (this.#puts?.size) await Promise.allSettled([...this.#puts]);
    if (this.#ownsClient) return releaseSharedClient(this.#client);
  }
}

function pick(values: Values, names: readonly string[] | undefined, pv: string): Values {
  if (names === undefined) {
    // The default reading, built directly (a rest spread is a slow runtime call in cold code).
    return { value: values.value!, severity: values.severity!, status: values.status! };
  }
  const out: Values = {};
  for (const n of names) {
    if (!(n in values)) {
      throw new UsageError(
        `ca://${pv} has no attribute "${n}"; it has: value, severity, status, timestamp`,
      );
    }
    out[n] = values[n]!;
  }
  return out;
}

/**
 * The abort of one call with its deadline's message: {@linkcode DeadlineAbort.expire} is what the
 * process' deadline timer calls, with the call as `this`.
 */
class DeadlineAbort extends CallAbort {
  constructor(
    readonly what: string,
    readonly pv: string,
    readonly timeoutMs: number,
    readonly device: string,
  ) {
    super();
  }

  /** Aborts with "<what> <pv>: no answer within <timeout>" (called with the call as `this`). */
  expire(this: DeadlineAbort): void {
    const message = `${this.what} ${this.pv}: no answer within ${formatMs(this.timeoutMs)}`;
    this.abort(new TimeoutError(message, this.device));
  }
}

function flag(name: string, v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  const t = String(v).trim().toLowerCase();
  if (["1", "true", "yes", "on", ""].includes(t)) return true;
  if (["0", "false", "no", "off"].includes(t)) return false;
  throw new UsageError(`${name}=${v}: expected true or false`);
}

/** Default `move_guard`, ms: DMOV staying 1 this long after a completed write ends a move. */
const DEFAULT_MOVE_GUARD_MS = 100;

/**
 * A `ca://PREFIX` device of several PVs (`pvs`, `motor`), or undefined for a single PV. Options
 * were checked by {@linkcode checkAddressOptions}; an address' `?key=` wins over the config's.
 */
function pvDevice(address: Address, ctx: OpenContext): PvDevice | undefined {
  const option = (k: string) => address.params.get(k) ?? ctx.options[k];
  const motor = CA_OPTIONS.rules.motor!(option("motor") ?? false);
  const pvs = option("pvs") === undefined ? undefined : CA_OPTIONS.rules.pvs!(option("pvs"));
  const isMotor = motor.ok && motor.value === true;
  // A move_guard without motor or pvs was refused by CA_OPTIONS.together.
  if (!isMotor && pvs === undefined) return undefined;
  const guard = option("move_guard");
  const guardMs = guard === undefined ? undefined : CA_OPTIONS.rules.move_guard!(guard);
  const specs = devicePvs(pvs?.ok ? pvs.value as PvSpec[] : undefined, isMotor);
  return new PvDevice(ctx.name, address.text, address.target.trim(), {
    pvs: specs,
    motor: isMotor,
    moveGuardMs: guardMs?.ok ? guardMs.value as number : DEFAULT_MOVE_GUARD_MS,
    timeout: ctx.timeout,
  }, (pv) => new CaDevice(ctx.name, `ca://${pv}`, pv, { timeout: ctx.timeout }));
}

/** The `ca://` driver. */
export const caDriver: Driver = {
  ...CA_INFO,
  // deno-lint-ignore require-await
  async open(address: Address, ctx: OpenContext): Promise<Device> {
    checkAddressOptions(address, ctx.options, CA_OPTIONS);
    // A bare PV (no options: a long command line of targets) is one CaDevice as it is.
    if (!hasOptions(address) && isEmpty(ctx.options)) {
      return new CaDevice(ctx.name, address.text, address.target.trim(), { timeout: ctx.timeout });
    }
    const group = pvDevice(address, ctx);
    if (group) return group;
    const pv = address.target.trim();
    const wait = flag("wait", address.params.get("wait") ?? ctx.options["wait"]);
    const asString = flag("as_string", address.params.get("as_string") ?? ctx.options["as_string"]);
    const charMode = asString === undefined ? undefined : asString ? "string" : "bytes";
    return new CaDevice(ctx.name, address.text, pv, { timeout: ctx.timeout, wait, charMode });
  },
};
