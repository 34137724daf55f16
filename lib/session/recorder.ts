/**
 * The recorder: listens to every device manager of a Lab and writes each reading's values into
 * a {@linkcode SessionStore}. Device failures become `error` events, rate-limited per device (a
 * dead device writes its first error, then at most one "still failing" event per
 * `errorEventIntervalMs`, then a `recovered` event); missed deadlines become `gap` events,
 * coalesced per device per flush.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
import { errorMessage } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import type { DeviceManager } from "../lab/manager.ts";
import type { SessionStore } from "./store.ts";
import { typeOf } from "./value_codec.ts";
import { humanDateTime } from "../output/time.ts";

/** Options of a {@linkcode Recorder}. */
export interface RecorderOptions {
  /** Least time between two error events of one failing device, ms (default 60 s). */
  errorEventIntervalMs?: number;
  /** How long to wait for each device's attribute list before recording without units, ms. */
  attrsTimeoutMs?: number;
}

interface DeviceState {
  id: number;
  ids: Map<string, number>;
  /**
   * The attribute names of the last reading recorded, in order, and their ids: a reading of the
   * same shape (every poll of a device) takes its ids from here, not a lookup by name each.
   * Forgotten whenever `ids` changes.
   */
  shape: { names: string[]; ids: number[] } | undefined;
  failing: boolean;
  errors: number;
  suppressed: number;
  lastErrorEvent: number;
  firstErrorT: number;
}

/** The names of `values` in order with their ids, or undefined when one has none. */
function shapeOf(
  ids: Map<string, number>,
  values: Record<string, Value>,
): DeviceState["shape"] {
  const names = Object.keys(values);
  const shapeIds: number[] = [];
  for (const name of names) {
    const id = ids.get(name);
    if (id === undefined) return undefined;
    shapeIds.push(id);
  }
  return { names, ids: shapeIds };
}

interface Gap {
  missed: number;
  intervalMs: number;
  t: number;
}

/** Figures a recorder keeps. */
export interface RecorderStats {
  /** Readings seen. */
  readings: number;
  /** Failed readings seen. */
  failed: number;
  /** Values queued for writing. */
  values: number;
  /** Deadlines missed (sum over devices). */
  missed: number;
}

/** Writes a Lab's readings into a session. */
export class Recorder {
  /** Running figures. */
  readonly stats: RecorderStats = { readings: 0, failed: 0, values: 0, missed: 0 };
  readonly #devices = new Map<string, DeviceState>();
  // The device of the last reading recorded (undefined again whenever a device is registered).
  #last: DeviceState | undefined;
  #lastName = "";
  readonly #gaps = new Map<string, Gap>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #offs = new Map<DeviceManager, () => void>();
  readonly #errorEvery: number;
  #stopped = false;
  readonly #stopping = new AbortController();

  /** Prepares a recorder of `lab` into `store` (call {@linkcode Recorder.start}). */
  constructor(
    readonly lab: Lab,
    readonly store: SessionStore,
    readonly options: RecorderOptions = {},
  ) {
    this.#errorEvery = options.errorEventIntervalMs ?? 60_000;
    const prev = store.writer.options.beforeFlush;
    store.writer.options.beforeFlush = () => {
      prev?.();
      this.#flushGaps();
    };
  }

  /**
   * Registers every device and listens to readings at once; each device's declared attributes
   * (with units) are registered when it lists them, in the background, so a hung instrument
   * holds back nothing but itself. Until then its values are recorded with inferred types.
   */
  start(): void {
    // configured devices, and those added at run time (POST /api/devices, SIGHUP) from then on
    this.#unsubscribe.push(this.lab.eachDevice((m) => {
      if (this.#stopped) return;
      this.#registerWithAttrs(m);
      this.#listen(m);
      return () => {
        this.#offs.get(m)?.();
        this.#offs.delete(m);
      };
    }));
  }

  #listen(m: DeviceManager): void {
    const off = m.onReading((r) => this.record(r));
    this.#offs.set(m, off);
    this.#unsubscribe.push(off);
  }

  #registerWithAttrs(m: DeviceManager): void {
    const timeout = this.options.attrsTimeoutMs ?? 5000;
    const state = this.#guard(() => this.#register(m));
    if (!state) return;
    m.attrs({ timeout, signal: this.#stopping.signal }).then((attrs) => {
      if (this.#stopped) return;
      for (const a of attrs) {
        const id = this.#guard(() => this.store.attr(state.id, a));
        if (id !== undefined) state.ids.set(a.name, id);
      }
      state.shape = undefined;
    }, (err) => {
      if (this.#stopped) return;
      this.store.event({
        kind: "error",
        severity: "minor",
        device: m.name,
        message: `${m.name}: attributes unavailable at start (${
          errorMessage(err)
        }); recording values without units until it answers`,
      });
    });
  }

  /**
   * Writes one reading (called by the managers' listeners; public for pushed sources). Never
   * throws: a store that cannot register a device or attribute counts the values as dropped.
   */
  record(r: Reading): void {
    // No closure here (the registrations are methods): a closure capturing the reading or a
    // value made V8 allocate their scope on every call, ~0.3 KB per reading (sampled profile).
    this.stats.readings++;
    // Readings come in runs of one device (the polls of it): its state is kept at hand.
    let state = this.#last;
    if (state === undefined || this.#lastName !== r.device) {
      state = this.#devices.get(r.device) ?? this.#newDevice(r.device);
      this.#last = state;
      this.#lastName = r.device;
    }
    if (state === undefined) {
      this.#drop(r);
      return;
    }
    if (r.error !== undefined) {
      this.stats.failed++;
      this.#failed(state, r);
      return;
    }
    if (state.failing) this.#recovered(state, r);
    const writer = this.store.writer;
    const shape = state.shape;
    let from = 0;
    if (shape !== undefined) {
      // A reading of the last one's names in its order (every poll of a device): one call.
      const done = writer.putValues(r.t, r.values, shape.names, shape.ids);
      if (done === shape.names.length) {
        this.stats.values += done;
        writer.publish();
        return;
      }
      from = done < 0 ? -1 - done : done;
    }
    this.#putRest(state, r, from);
    writer.publish();
  }

  /**
   * Puts a reading's values from the `from`-th on one by one (those before it were put by
   * `putValues` under the device's last shape), and takes the reading's shape when it is another.
   */
  #putRest(state: DeviceState, r: Reading, from: number): void {
    const writer = this.store.writer;
    const values = r.values;
    const t = r.t;
    const shape = state.shape;
    // Whether the names so far are the last reading's (in its order): its ids then serve.
    let same = shape !== undefined;
    let k = 0;
    let n = from;
    for (const name in values) {
      if (k < from) {
        k++;
        continue;
      }
      const v = values[name]!;
      let id: number | undefined;
      if (same && shape!.names[k] === name) id = shape!.ids[k];
      else {
        same = false;
        id = state.ids.get(name) ?? this.#newAttr(state, name, v);
      }
      k++;
      if (id === undefined) {
        writer.stats.dropped++;
        continue;
      }
      writer.put(t, id, v);
      n++;
    }
    this.stats.values += n;
    if (!same || k !== shape!.names.length) state.shape = shapeOf(state.ids, values);
  }

  /** Registers a device first seen in a reading; undefined when the store refuses. */
  #newDevice(name: string): DeviceState | undefined {
    return this.#guard(() => this.#registerName(name));
  }

  /** Registers an attribute first seen in a reading (type inferred); undefined when refused. */
  #newAttr(state: DeviceState, name: string, v: Value): number | undefined {
    const id = this.#guard(() => this.store.attr(state.id, { name, type: typeOf(v) }));
    if (id !== undefined) state.ids.set(name, id);
    state.shape = undefined;
    return id;
  }

  /** Notes deadlines missed by `devices` (the Sampler's `onMissed`); written as gap events. */
  missed(devices: string[], missed: number, intervalMs: number): void {
    const t = Date.now() / 1000;
    for (const d of devices) {
      this.stats.missed += missed;
      const g = this.#gaps.get(d);
      if (g) g.missed += missed;
      else this.#gaps.set(d, { missed, intervalMs, t });
    }
    this.store.writer.arm();
  }

  /** Stops listening (writes pending gap events with the next flush). */
  stop(): void {
    this.#stopped = true;
    this.#stopping.abort(new Error("recording stopped"));
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  // Registrations write at once (not through the writer's buffer): a failing store makes them
  // throw, which must reach the writer's outage, never the sampler that published the reading.
  #guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.store.writer.reportFailure(err);
      return undefined;
    }
  }

  #drop(r: Reading): void {
    this.store.writer.stats.dropped += Object.keys(r.values).length;
  }

  #register(m: DeviceManager): DeviceState {
    const id = this.store.device({
      name: m.name,
      address: m.device.address,
      driver: m.device.driver,
      intervalMs: m.config.interval,
    });
    return this.#state(m.name, id);
  }

  #registerName(name: string): DeviceState {
    const m = this.lab.find(name);
    return m ? this.#register(m) : this.#state(name, this.store.device({ name }));
  }

  #state(name: string, id: number): DeviceState {
    const state: DeviceState = {
      id,
      ids: new Map(),
      shape: undefined,
      failing: false,
      errors: 0,
      suppressed: 0,
      lastErrorEvent: -Infinity,
      firstErrorT: 0,
    };
    this.#devices.set(name, state);
    this.#last = undefined;
    return state;
  }

  #failed(state: DeviceState, r: Reading): void {
    state.errors++;
    const now = performance.now();
    if (!state.failing) {
      state.failing = true;
      state.firstErrorT = r.t;
      state.lastErrorEvent = now;
      this.#errorEvent(r, r.error!);
      return;
    }
    if (now - state.lastErrorEvent >= this.#errorEvery) {
      state.lastErrorEvent = now;
      this.#errorEvent(
        r,
        `still failing (${state.errors} failed reads since ${
          humanDateTime(state.firstErrorT)
        }): ${r.error}`,
        { errors: state.errors, suppressed: state.suppressed },
      );
      state.suppressed = 0;
    } else {
      state.suppressed++;
    }
  }

  /** A device's failing reads as a session event (the first, then a summary now and then). */
  #errorEvent(r: Reading, message: string, data?: Record<string, number>): void {
    this.store.event({ t: r.t, kind: "error", severity: "major", device: r.device, message, data });
  }

  #recovered(state: DeviceState, r: Reading): void {
    this.store.event({
      t: r.t,
      kind: "recovered",
      severity: "info",
      device: r.device,
      message: `answering again after ${state.errors} failed reads over ${
        (r.t - state.firstErrorT).toFixed(1)
      } s`,
      data: { errors: state.errors },
    });
    state.failing = false;
    state.errors = 0;
    state.suppressed = 0;
  }

  #flushGaps(): void {
    if (this.#gaps.size === 0) return;
    for (const [device, g] of this.#gaps) {
      this.store.writer.event({
        t: g.t,
        kind: "gap",
        severity: "minor",
        device,
        message: `${g.missed} sampling deadline${
          g.missed === 1 ? "" : "s"
        } missed (interval ${g.intervalMs} ms)`,
        data: { missed: g.missed, interval_ms: g.intervalMs },
      });
    }
    this.#gaps.clear();
  }
}
