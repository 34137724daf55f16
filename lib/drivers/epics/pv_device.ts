/**
 * A `ca://PREFIX` device made of several PVs (`pvs`, `motor`; see `./options.ts`): one `ca://`
 * device per attribute (`CaDevice`, on the shared CA client: one circuit per IOC), each
 * attribute typed from its PV unless the config declares it. With `motor = true`, a write of
 * `position` starts a move that {@linkcode PvDevice.isMoving} follows through the `done` PV
 * (DMOV) with a CA monitor (`./motor_move.ts`), so `write --wait`, scans, tasks and
 * `position restore --wait` wait for the record, not for the write; `stop` writes 1 to `.STOP`.
 *
 * @module
 */
import { type Attr, type Value, type Values } from "../../device/attr.ts";
import {
  type CallOptions,
  type Device,
  type Subscription,
  withDeadline,
} from "../../device/device.ts";
import { DeviceError, TimeoutError, UsageError } from "../../device/errors.ts";
import { MoveWatch } from "./motor_move.ts";
import type { PvSpec } from "./options.ts";

/** What a multi-PV device is opened with. */
export interface PvDeviceOptions {
  /** The attributes and their PVs (motor roles first when `motor`). */
  pvs: PvSpec[];
  /** Motor-record semantics (`position`, `readback`, `done`, `stop`). */
  motor: boolean;
  /** How long DMOV may stay 1 after a completed write before the move counts as over, ms. */
  moveGuardMs: number;
  /** Per-call timeout, ms. */
  timeout?: number;
}

/** Per-call timeout when none is configured, ms (as a single `ca://` PV). */
const DEFAULT_TIMEOUT_MS = 5000;

/** One attribute: its spec and its PV. */
interface Member {
  spec: PvSpec;
  /** Its full PV name. */
  name: string;
  pv: Device;
  /** The PV's enum states, once its metadata is known (a declared boolean over an enum reads them). */
  states?: string[];
}

/** Several PVs under one prefix as one device. */
export class PvDevice implements Device {
  readonly driver = "ca";
  #members = new Map<string, Member>();
  #watch: MoveWatch | undefined;
  #doneMonitor: Promise<Subscription> | undefined;
  #closed = false;

  /**
   * Opens the PVs under `prefix` with `openPv` (a `ca://` device of one PV; lazily: searches
   * start now, calls wait for their PVs).
   */
  constructor(
    readonly name: string,
    readonly address: string,
    readonly prefix: string,
    readonly opts: PvDeviceOptions,
    openPv: (pv: string) => Device,
  ) {
    for (const spec of opts.pvs) {
      const pvName = prefix + spec.suffix;
      this.#members.set(spec.name, { spec, name: pvName, pv: openPv(pvName) });
    }
    if (opts.motor) this.#watch = new MoveWatch(opts.moveGuardMs);
  }

  #member(name: string): Member {
    const m = this.#members.get(name);
    if (!m) {
      throw new UsageError(
        `${this.name} has no attribute "${name}"; it has: ${[...this.#members.keys()].join(", ")}`,
      );
    }
    return m;
  }

  /** Runs a call on one attribute's PV; a failure says which attribute it was. */
  async #on<T>(m: Member, fn: (pv: Device) => Promise<T>): Promise<T> {
    try {
      return await fn(m.pv);
    } catch (err) {
      if (!(err instanceof DeviceError)) throw err;
      // CaDevice's messages name the PV; the attribute it stands for is what the user wrote.
      const message = `${this.name}.${m.spec.name}: ${
        err.message.includes(m.name) ? "" : `PV ${m.name}: `
      }${err.message}`;
      if (err instanceof TimeoutError) throw new TimeoutError(message, this.name, { cause: err });
      throw new DeviceError(message, this.name, { cause: err });
    }
  }

  /** The attributes, each from its PV's metadata with the config's declarations on top. */
  async attrs(opts?: CallOptions): Promise<Attr[]> {
    return await Promise.all([...this.#members.values()].map((m) => this.#attr(m, opts)));
  }

  async #attr(m: Member, opts?: CallOptions): Promise<Attr> {
    const value = (await this.#on(m, (pv) => pv.attrs(opts)))[0]!;
    m.states = value.options ?? [];
    const s = m.spec;
    const a: Attr = {
      ...value,
      name: s.name,
      status: s.status ?? true,
      rw: value.rw && s.rw !== false,
      description: s.description ? `${s.description} (PV ${m.name})` : value.description,
    };
    if (s.type && s.type !== value.type) {
      a.type = s.type;
      // The PV's limits and choices describe its own type, not the declared one.
      delete a.min;
      delete a.max;
      delete a.options;
      if (s.type !== "number") delete a.precision;
      if (s.type === "boolean") delete a.units;
    }
    if (s.units !== undefined) a.units = s.units;
    if (s.precision !== undefined) a.precision = s.precision;
    return a;
  }

  /** Converts a PV's value to the attribute's declared type. */
  #convert(m: Member, v: Value): Value {
    const type = m.spec.type;
    if (type === undefined || v === null) return v;
    if (type === "boolean") {
      if (typeof v === "number") return v !== 0;
      // An enum PV (a bo's ZNAM/ONAM) reads as its state string: state 0 is false.
      if (typeof v === "string") return m.states?.length ? m.states.indexOf(v) > 0 : v !== "0";
      return v;
    }
    if (type === "string") return typeof v === "string" ? v : JSON.stringify(v);
    if (type === "integer" && typeof v === "number") return Math.round(v);
    return v;
  }

  /** Reads the named attributes (or the default reading), one CA get per PV, all at once. */
  async read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    const members = names === undefined
      ? [...this.#members.values()].filter((m) => m.spec.status !== false)
      : names.map((n) => this.#member(n));
    const values = await Promise.all(members.map(async (m) => {
      const v = (await this.#on(m, (pv) => pv.read(["value"], opts))).value ?? null;
      if (typeof v === "string" && m.spec.type === "boolean" && !m.states) {
        await this.#attr(m, opts);
      }
      return this.#convert(m, v);
    }));
    return Object.fromEntries(members.map((m, i) => [m.spec.name, values[i]!]));
  }

  /**
   * Writes one attribute's PV. A motor's `position` starts a move followed by `done`; `stop`
   * writes 1 to the record's STOP (the value written to a declared boolean is 1 or 0).
   */
  async write(name: string, value: Value, opts?: CallOptions): Promise<void> {
    const m = this.#member(name);
    if (this.#watch && name === "position") {
      // The monitor must hold DMOV's state before the target goes, or its drop to 0 is missed.
      await this.#followDone(opts);
      await this.#on(m, (pv) => pv.write("value", value, opts));
      this.#watch.started();
      return;
    }
    if (this.#watch && name === "stop" && value === true) this.#watch.clear();
    await this.#on(m, (pv) => pv.write("value", value, opts));
  }

  /** Starts the `done` monitor once and waits (within the call's timeout) for its first value. */
  async #followDone(opts?: CallOptions): Promise<void> {
    const watch = this.#watch!;
    const m = this.#member("done");
    this.#doneMonitor ??= (async () => {
      // An enum DMOV (a declared boolean over a bi) converts by its states: fetch them first.
      await this.#attr(m, opts);
      let first: () => void;
      const arrived = new Promise<void>((r) => (first = r));
      const sub = await this.#on(m, (pv) =>
        pv.subscribe!(["value"], (values) => {
          watch.update(isDone(this.#convert(m, values.value ?? null)));
          first();
        }, opts));
      await arrived;
      return sub;
    })();
    const monitor = this.#doneMonitor;
    monitor.catch(() => {
      if (this.#doneMonitor === monitor) this.#doneMonitor = undefined;
    });
    await withDeadline(
      opts,
      this.opts.timeout ?? DEFAULT_TIMEOUT_MS,
      `${this.name}: waiting for done (PV ${m.name})`,
      () => monitor,
    );
  }

  /**
   * A motor moves until its `done` PV (DMOV) has gone 0 and back to 1 after our write (or stayed 1
   * for the guard time after it completed); a move of someone else's while DMOV is 0.
   */
  async isMoving(opts?: CallOptions): Promise<boolean> {
    if (!this.#watch) return false;
    await this.#followDone(opts);
    const writing = await this.#on(this.#member("position"), (pv) => pv.isMoving!(opts));
    const now = performance.now();
    const moving = this.#watch.moving(now, writing);
    if (moving !== undefined) return moving;
    // DMOV's monitor is between connections: ask the PV itself (a clear error if it is gone).
    const done = isDone((await this.read(["done"], opts)).done ?? null);
    this.#watch.update(done);
    return this.#watch.moving(now, writing) ?? done !== true;
  }

  /** A motor's `move` task (write `position`, sample until done). */
  techniques(): string[] {
    return this.#watch ? ["move"] : [];
  }

  /**
   * Pushes the device's values through a CA monitor per PV: each update carries every wanted
   * attribute's latest value once all have reported.
   */
  async subscribe(
    names: readonly string[] | undefined,
    onValues: (values: Values, t: number) => void,
    opts?: CallOptions,
  ): Promise<Subscription> {
    const members = names === undefined
      ? [...this.#members.values()].filter((m) => m.spec.status !== false)
      : names.map((n) => this.#member(n));
    // Declared types need the PV metadata (an enum's states) before the first update converts.
    await Promise.all(members.map((m) => this.#attr(m, opts)));
    const latest: Values = {};
    let missing = members.length;
    let newest = 0;
    const subs = await Promise.allSettled(
      members.map((m) =>
        this.#on(m, (pv) =>
          pv.subscribe!(["value"], (values, t) => {
            if (!(m.spec.name in latest)) missing--;
            latest[m.spec.name] = this.#convert(m, values.value ?? null);
            // The newest of the values' server timestamps: the reading is as of then.
            newest = Math.max(newest, t);
            if (missing === 0) onValues({ ...latest }, newest);
          }, opts))
      ),
    );
    const opened = subs.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
    const failed = subs.find((s) => s.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) {
      await Promise.all(opened.map((s) => s.close()));
      throw failed.reason;
    }
    return { close: async () => void await Promise.all(opened.map((s) => s.close())) };
  }

  /** Closes every PV (the shared client closes with its last device). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.clear();
    const monitor = this.#doneMonitor;
    this.#doneMonitor = undefined;
    await monitor?.then((s) => s.close(), () => {});
    await Promise.all([...this.#members.values()].map((m) => m.pv.close()));
  }
}

/** DMOV as a flag: true (done), false (moving) or undefined (no value: disconnected). */
function isDone(v: Value): boolean | undefined {
  if (v === null) return undefined;
  return typeof v === "boolean" ? v : typeof v === "number" ? v !== 0 : v !== "0" && v !== "";
}
