/**
 * The CA server's process variables: one {@linkcode Pv} per attribute of every device of a
 * {@linkcode Lab}, named `<prefix><device>:<attr>`, holding the latest value, timestamp and
 * alarm. Values come from the devices' readings (`DeviceManager.onReading`, synchronously, so
 * monitors see every sample the sampler takes); alarm severities from failed reads, missing
 * values, and labwire's alarm engine (or anyone calling {@linkcode PvTable.setAlarm}).
 *
 * Watchers (the monitors of the TCP circuits) are told about each change with the EPICS event
 * mask it deserves: DBE_VALUE|DBE_LOG when the value changed, DBE_ALARM when the alarm did.
 *
 * @module
 */
import { sameValue } from "../../alarm/condition.ts";
import type { Attr, Value } from "../../device/attr.ts";
import type { Reading } from "../../device/device.ts";
import { errorMessage } from "../../device/errors.ts";
import { EPICS_STATUS, type EpicsLimits, epicsStatus } from "../../alarm/epics.ts";
import { type AlarmEvent, SEVERITY_LEVEL } from "../../alarm/event.ts";
import type { ThresholdRule } from "../../alarm/rules.ts";
import type { DeviceManager } from "../../lab/manager.ts";
import type { Lab } from "../../lab/lab.ts";
import { encodeDbr } from "../../drivers/epics/dbr.ts";
import { DBE } from "../../drivers/epics/messages.ts";
import { type PvShape, pvShape, type PvSnapshot, toDbrData } from "./codec.ts";

/** Something told about PV changes (a monitor subscription). */
export interface PvWatcher {
  /** Called synchronously with the new snapshot and the event mask of the change. */
  post(pv: Pv, snap: PvSnapshot, mask: number): void;
}

const INVALID = SEVERITY_LEVEL.invalid;

/** One attribute served as a PV. */
export class Pv {
  /** The latest value; undefined until the attribute has been read once. */
  snap: PvSnapshot | undefined;
  /** Monitors of this PV. */
  readonly watchers = new Set<PvWatcher>();
  /** Set while the device's last read failed. */
  readFailed = false;
  /** Alarm imposed from outside (alarm engine, setAlarm): severity and status. */
  external = { severity: 0, status: 0 };
  #fetching: Promise<PvSnapshot> | undefined;
  #encoded = new Map<number, Uint8Array>();
  #encodedFor: PvSnapshot | undefined;

  /** Creates the PV `name` for `attr` of the device behind `manager`. */
  constructor(readonly name: string, readonly manager: DeviceManager, public shape: PvShape) {}

  /** The attribute. */
  get attr(): Attr {
    return this.shape.attr;
  }

  /** The device's name. */
  get device(): string {
    return this.manager.name;
  }

  /**
   * The DBR payload (unpadded) of `snap` as `dbrType` × `count`, cached per snapshot so that
   * many monitors of one PV encode each update once.
   */
  payload(snap: PvSnapshot, dbrType: number, count: number): Uint8Array {
    if (this.#encodedFor !== snap) {
      this.#encoded.clear();
      this.#encodedFor = snap;
    }
    const key = dbrType * 0x1000000 + count;
    let bytes = this.#encoded.get(key);
    if (!bytes) {
      bytes = encodeDbr(dbrType, toDbrData(this.shape, snap, dbrType, count));
      this.#encoded.set(key, bytes);
    }
    return bytes;
  }

  /**
   * Returns the current snapshot, reading the attribute through the device's queue when there
   * is no value yet (never read, or the last attempt failed).
   */
  current(timeoutMs = 5000): Promise<PvSnapshot> {
    if (this.snap && this.snap.value !== null) return Promise.resolve(this.snap);
    this.#fetching ??= this.manager.read([this.attr.name], { timeout: timeoutMs }).then(
      () => this.snap ?? this.#missing(),
      () => this.snap ?? this.#missing(),
    ).finally(() => this.#fetching = undefined);
    return this.#fetching;
  }

  #missing(): PvSnapshot {
    // The read failed (or the device left this attr out): serve "no value", alarmed INVALID.
    const snap = { value: null, t: Date.now() / 1000, severity: 0, status: 0 };
    this.update(snap.value, snap.t, true);
    return this.snap!;
  }

  /** The alarm a value deserves now: the worst of read failure, missing value and external. */
  #alarm(value: Value): { severity: number; status: number } {
    let severity = this.external.severity;
    let status = this.external.status;
    if (this.readFailed && severity < INVALID) {
      severity = INVALID;
      status = EPICS_STATUS.READ;
    } else if (value === null && severity < INVALID) {
      severity = INVALID;
      status = EPICS_STATUS.UDF;
    }
    return { severity, status };
  }

  /**
   * Takes a new value (`hasValue`) or re-evaluates the alarm of the current one, and tells the
   * watchers when something they asked for changed.
   */
  update(value: Value | undefined, t: number, hasValue: boolean): void {
    const prev = this.snap;
    if (!prev && !hasValue) return;
    const v = hasValue ? value ?? null : prev!.value;
    const { severity, status } = this.#alarm(v);
    let mask = 0;
    if (!prev || (hasValue && !sameValue(prev.value, v))) mask |= DBE.VALUE | DBE.LOG;
    if (!prev || prev.severity !== severity || prev.status !== status) mask |= DBE.ALARM;
    // An unchanged value still refreshes the timestamp (reads show when it was last sampled).
    if (!hasValue && mask === 0) return;
    const snap: PvSnapshot = { value: v, t: hasValue ? t : prev!.t, severity, status };
    this.snap = snap;
    if (mask === 0) return;
    for (const w of this.watchers) w.post(this, snap, mask);
  }
}

/** Options of {@linkcode PvTable.open}. */
export interface PvTableOptions {
  /** Prepended to every PV name, e.g. `LAB:`. */
  prefix?: string;
  /** Receives warnings (a device whose attributes cannot be listed yet). */
  warn?: (message: string) => void;
  /** How long to wait for a device's attribute list, ms (default 5000). */
  attrsTimeoutMs?: number;
  /** Retry interval for devices whose attributes failed, ms (default 10,000). */
  retryMs?: number;
  /** The alarm and warning limits each PV publishes (from the alarm rules); default none. */
  alarmLimits?: (device: string, attr: string) => EpicsLimits;
}

interface ExternalAlarm {
  device: string;
  attr?: string;
  severity: number;
  status: number;
}

/** Every PV of a lab, by name. */
export class PvTable {
  readonly #pvs = new Map<string, Pv>();
  /** `.DESC` / `.EGU` PVs, made when first asked for. */
  readonly #fields = new Map<string, Pv>();
  readonly #byDevice = new Map<string, Map<string, Pv>>();
  readonly #unsubscribe: (() => void)[] = [];
  /** Per device: what stops following it (its reading listener, its poll timer). */
  readonly #following = new Map<DeviceManager, () => void>();
  readonly #removedListeners = new Set<(pvs: ReadonlySet<Pv>) => void>();
  readonly #alarms = new Map<string, ExternalAlarm>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #intervals = new Set<ReturnType<typeof setInterval>>();
  #closed = false;

  private constructor(readonly lab: Lab, readonly options: PvTableOptions) {}

  /**
   * Lists every device's attributes and creates their PVs. A device that cannot list its
   * attributes yet (e.g. unreachable) is retried in the background.
   */
  static async open(lab: Lab, options: PvTableOptions = {}): Promise<PvTable> {
    const table = new PvTable(lab, options);
    // Configured devices and those added, changed or removed at run time (POST/DELETE
    // /api/devices, SIGHUP) gain and lose their PVs alike; the first ones are awaited.
    let starting: Promise<void>[] | undefined = [];
    table.#unsubscribe.push(lab.eachDevice((m) => {
      const added = table.#addDevice(m);
      if (starting) starting.push(added);
      return () => table.#removeDevice(m);
    }));
    const first = starting;
    starting = undefined;
    await Promise.all(first);
    return table;
  }

  /** Calls `fn` with the PVs of each device removed, so their channels can be disconnected. */
  onRemoved(fn: (pvs: ReadonlySet<Pv>) => void): void {
    this.#removedListeners.add(fn);
  }

  #removeDevice(manager: DeviceManager): void {
    this.#following.get(manager)?.();
    this.#following.delete(manager);
    const pvs = this.#byDevice.get(manager.name);
    // (the PVs of the name may already be a newer device's)
    if (!pvs || [...pvs.values()].some((pv) => pv.manager !== manager)) return;
    this.#byDevice.delete(manager.name);
    const gone = new Set(pvs.values());
    for (const pv of gone) this.#pvs.delete(pv.name);
    for (const [name, field] of this.#fields) {
      if (field.manager === manager) {
        this.#fields.delete(name);
        gone.add(field);
      }
    }
    for (const fn of this.#removedListeners) fn(gone);
  }

  async #addDevice(manager: DeviceManager): Promise<void> {
    let attrs: Attr[];
    try {
      attrs = await manager.attrs({ timeout: this.options.attrsTimeoutMs ?? 5000 });
    } catch (err) {
      if (this.#closed) return;
      this.options.warn?.(
        `CA server: cannot list the attributes of ${manager.name} (${
          errorMessage(err)
        }); retrying, its PVs appear when it answers`,
      );
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        // a device removed meanwhile is not brought back
        if (!this.#closed && this.lab.find(manager.name) === manager) this.#addDevice(manager);
      }, this.options.retryMs ?? 10_000);
      this.#timers.add(timer);
      return;
    }
    if (this.#closed || this.lab.find(manager.name) !== manager) return;
    const prefix = this.options.prefix ?? "";
    const pvs = new Map<string, Pv>();
    for (const a of attrs) {
      const shape = pvShape(a);
      const limits = this.options.alarmLimits?.(manager.name, a.name);
      if (limits && Object.keys(limits).length > 0) shape.alarmLimits = limits;
      const pv = new Pv(`${prefix}${manager.name}:${a.name}`, manager, shape);
      pvs.set(a.name, pv);
      this.#pvs.set(pv.name, pv);
    }
    this.#byDevice.set(manager.name, pvs);
    const poll = this.#pollUnsampled(manager, [...pvs.values()].filter((pv) => !pv.attr.status));
    for (const alarm of this.#alarms.values()) this.#applyAlarms(alarm.device, alarm.attr);
    const last = manager.last;
    if (last) this.#onReading(pvs, last);
    const off = manager.onReading((r) => this.#onReading(pvs, r));
    this.#following.set(manager, () => {
      off();
      if (poll === undefined) return;
      clearInterval(poll);
      this.#intervals.delete(poll);
    });
  }

  /**
   * The sampler reads a device's status attrs only; the other attrs (settings like a range or
   * a velocity) are read here at the device's interval while someone monitors them, so that
   * `camonitor` on them sees changes made by anyone.
   */
  #pollUnsampled(manager: DeviceManager, pvs: Pv[]): ReturnType<typeof setInterval> | undefined {
    if (pvs.length === 0) return undefined;
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.#closed) return;
      const names = pvs.filter((pv) => pv.watchers.size > 0).map((pv) => pv.attr.name);
      if (names.length === 0) return;
      busy = true;
      manager.sample(names, { timeout: this.options.attrsTimeoutMs ?? 5000 })
        // a failed sample shows as the device's error reading; the next tick tries again
        .catch(() => {})
        .finally(() => busy = false);
    }, Math.max(100, manager.config.interval));
    this.#intervals.add(timer);
    return timer;
  }

  #onReading(pvs: Map<string, Pv>, reading: Reading): void {
    const failed = reading.error !== undefined;
    for (const [name, pv] of pvs) {
      const has = Object.hasOwn(reading.values, name);
      const wasFailed = pv.readFailed;
      pv.readFailed = failed;
      if (has) {
        const v: Value = reading.values[name] ?? null;
        if (pv.attr.type === "number[]" && Array.isArray(v) && pv.shape.count < v.length) {
          // An array longer than at creation: channels made later see the longer count.
          pv.shape = { ...pv.shape, count: v.length };
        }
        pv.update(v, reading.t, true);
      } else if (wasFailed !== failed && pv.snap) {
        pv.update(undefined, reading.t, false);
      }
    }
  }

  /**
   * The PV called `name`, or undefined. Record-field forms work as on an IOC: `NAME.VAL` is the
   * PV itself, `NAME.DESC` its description and `NAME.EGU` its units (read-only strings).
   */
  get(name: string): Pv | undefined {
    const pv = this.#pvs.get(name) ?? this.#fields.get(name);
    if (pv) return pv;
    const dot = name.lastIndexOf(".");
    if (dot < 0) return undefined;
    const base = this.#pvs.get(name.slice(0, dot));
    const field = name.slice(dot + 1);
    if (!base) return undefined;
    if (field === "VAL") return base;
    if (field !== "DESC" && field !== "EGU") return undefined;
    const text = field === "DESC" ? base.attr.description ?? "" : base.attr.units ?? "";
    const a: Attr = {
      name: `${base.attr.name}.${field}`,
      type: "string",
      rw: false,
      status: false,
    };
    const fieldPv = new Pv(name, base.manager, pvShape(a));
    fieldPv.snap = { value: text, t: Date.now() / 1000, severity: 0, status: 0 };
    this.#fields.set(name, fieldPv);
    return fieldPv;
  }

  /** Every PV name, in device and attribute order. */
  names(): string[] {
    return [...this.#pvs.keys()];
  }

  /** Number of PVs. */
  get size(): number {
    return this.#pvs.size;
  }

  /**
   * Sets (severity > 0) or clears (severity 0) an alarm on one attribute, or on every
   * attribute of a device when `attr` is undefined. `key` names the alarm so that several can
   * be active at once; the PV shows the most severe.
   */
  setAlarm(
    device: string,
    attr: string | undefined,
    severity: number,
    status: number,
    key = `manual:${device}:${attr ?? "*"}`,
  ): void {
    if (severity > 0) this.#alarms.set(key, { device, attr, severity, status });
    else if (!this.#alarms.delete(key)) return;
    this.#applyAlarms(device, attr);
  }

  /**
   * Applies an alarm engine transition: active alarms raise their PVs' severity until cleared.
   * With its threshold `rule`, a low-side alarm shows as LOLO/LOW (without it, HIHI/HIGH).
   */
  alarmEvent(e: AlarmEvent, rule?: ThresholdRule): void {
    const severity = e.state === "active" ? SEVERITY_LEVEL[e.severity] : 0;
    this.setAlarm(e.device, e.attr, severity, epicsStatus(e, rule), `alarm:${e.name}`);
  }

  #applyAlarms(device: string, attr: string | undefined): void {
    const pvs = this.#byDevice.get(device);
    if (!pvs) return;
    const targets = attr === undefined ? [...pvs.values()] : [pvs.get(attr)].filter((p) => !!p);
    for (const pv of targets as Pv[]) {
      let severity = 0;
      let status = 0;
      for (const a of this.#alarms.values()) {
        if (a.device !== device || (a.attr !== undefined && a.attr !== pv.attr.name)) continue;
        if (a.severity > severity) {
          severity = a.severity;
          status = a.status;
        }
      }
      pv.external = { severity, status };
      if (pv.snap) pv.update(undefined, pv.snap.t, false);
    }
  }

  /** Stops listening to the devices. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const t of this.#intervals) clearInterval(t);
    this.#intervals.clear();
    for (const off of [...this.#unsubscribe, ...this.#following.values()]) off();
    this.#unsubscribe.length = 0;
    this.#following.clear();
  }
}
