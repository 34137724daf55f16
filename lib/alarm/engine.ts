/**
 * The alarm engine: fed every {@linkcode Reading} through {@linkcode AlarmEngine.observe}
 * (synchronous, a map lookup and a comparison per rule: it runs for every sample), and told the
 * time through {@linkcode AlarmEngine.tick} for what happens without samples (a `delay` that
 * elapses, a device that goes silent). Each transition is an {@linkcode AlarmEvent} given to
 * listeners and written as one line to the log (stderr by default; stdout stays data only).
 *
 * Wiring, e.g. in `monitor`:
 *
 * ```ts ignore
 * const engine = new AlarmEngine(parseAlarms(config), { log: (line) => console.error(line) });
 * engine.on((event) => session.event(event));    // every transition is a session event
 * engine.on((event) => notifier.notify(event));  // never blocks
 * manager.onReading((r) => engine.observe(r));
 * setInterval(() => engine.tick(), 250);         // delays and stale data
 * ```
 *
 * Time: `Reading.t` and `AlarmEvent.t` are Unix epoch seconds; `tick(nowMs)` and the `now`
 * option take Unix epoch milliseconds (what `Date.now()` returns). Tests drive both explicitly.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
import {
  type ActiveAlarm,
  type AlarmEvent,
  type AlarmSource,
  formatEvent,
  SEVERITY_LEVEL,
} from "./event.ts";
import { compileCondition, type Condition } from "./condition.ts";
import { fill, seconds, show } from "./wording.ts";
import {
  type AlarmConfig,
  describeCondition,
  type HealthRule,
  type ThresholdRule,
} from "./rules.ts";

/** Options of an {@linkcode AlarmEngine}. */
export interface AlarmEngineOptions {
  /** Receives one line per transition; default writes to stderr. */
  log?: (line: string) => void;
  /** Start time in epoch ms: devices never sampled go stale relative to it. Default `Date.now()`. */
  now?: number;
  /** How many transitions {@linkcode AlarmEngine.history} keeps (default 1000). */
  historySize?: number;
  /**
   * The sampling interval in ms when it differs from the config's (`monitor --interval`), for
   * every device or per device; stale-data alarms count intervals of this length.
   */
  interval?: number | ((device: string) => number | undefined);
}

export type { ActiveAlarm, AlarmSource } from "./event.ts";

interface RuleState {
  rule: ThresholdRule;
  cond: Condition;
  active: boolean;
  pendingSince: number | undefined;
  prev: Value | undefined;
  since: number;
  message: string;
}

interface HealthState {
  rule: HealthRule;
  /** The sampling interval in ms: configured, overridden, or longer as observed. */
  interval: number;
  /**
   * Time of the previous reading (good or failed), for the observed interval; NaN before the
   * first. A number from the start: a field that held undefined took each reading's time as a
   * new heap number (an allocation and a write barrier per reading).
   */
  lastSeen: number;
  /** Smoothed gap between readings, ms. */
  observed: number;
  errors: number;
  lastGood: number;
  errorSince: number | undefined;
  staleSince: number | undefined;
}

/** What the engine keeps at hand of the device of the last reading it observed. */
interface Seen {
  device: string;
  last: { reading: Reading };
  health: HealthState | undefined;
  rules: RuleState[] | undefined;
}

/**
 * Evaluates threshold and device-health alarms on readings and time.
 *
 * @example
 * ```ts
 * import { AlarmEngine } from "./engine.ts";
 * const engine = new AlarmEngine({
 *   rules: [{ name: "hot", key: "alarms[0]", device: "oven", attr: "temp", compare: ">",
 *     trip: 300, delay: 0, hysteresis: 5, severity: "major" }],
 *   health: [],
 * }, { log: () => {}, now: 0 });
 * engine.observe({ t: 1, device: "oven", values: { temp: 301 } });
 * engine.active().map((a) => a.name); // ["hot"]
 * ```
 */
export class AlarmEngine implements AlarmSource {
  #byDevice = new Map<string, RuleState[]>();
  #health = new Map<string, HealthState>();
  #pending = new Set<RuleState>();
  #active = new Map<string, ActiveAlarm>();
  #listeners = new Set<(event: AlarmEvent) => void>();
  #ackListeners = new Set<(alarm: ActiveAlarm) => void>();
  #history: AlarmEvent[] = [];
  #historyStart = 0;
  #historySize: number;
  #log: (line: string) => void;
  // Per device seen: its last reading (a holder, set per reading with no lookup by name).
  #lastReadings = new Map<string, { reading: Reading }>();
  // The device of the last reading observed, with its holder, health and rules (readings come in
  // runs of one device: polls of it); forgotten whenever a device's rules or health change.
  #seen: Seen | undefined;

  #config: AlarmConfig;
  #interval: AlarmEngineOptions["interval"];

  /** Builds the engine from validated alarm config. */
  constructor(config: AlarmConfig, opts: AlarmEngineOptions = {}) {
    this.#log = opts.log ?? ((line) => console.error(line));
    this.#historySize = Math.max(1, opts.historySize ?? 1000);
    this.#config = config;
    this.#interval = opts.interval;
    const now = opts.now ?? Date.now();
    for (const rule of config.rules) {
      const list = this.#byDevice.get(rule.device);
      if (list) list.push(ruleState(rule));
      else this.#byDevice.set(rule.device, [ruleState(rule)]);
    }
    for (const rule of config.health) this.#health.set(rule.device, this.#healthState(rule, now));
  }

  /** The rules in force (those of devices added, changed or removed since included). */
  get config(): AlarmConfig {
    return this.#config;
  }

  #healthState(rule: HealthRule, now: number): HealthState {
    const o = this.#interval;
    const override = typeof o === "function" ? o(rule.device) : o;
    return {
      rule,
      interval: override ?? rule.interval,
      lastSeen: NaN,
      observed: 0,
      errors: 0,
      lastGood: now,
      errorSince: undefined,
      staleSince: undefined,
    };
  }

  /**
   * Replaces one device's threshold rules and health alarm: a device added, changed or removed
   * at run time (`[]` and undefined), or its rules reloaded. A rule kept unchanged keeps its
   * state; the active alarms of the others are cleared, with `why` in the message.
   */
  setDevice(
    device: string,
    rules: readonly ThresholdRule[],
    health: HealthRule | undefined,
    why: string,
    nowMs = Date.now(),
  ): void {
    const key = (r: unknown) => JSON.stringify(r);
    const old = new Map((this.#byDevice.get(device) ?? []).map((s) => [key(s.rule), s]));
    const states = rules.map((r) => old.get(key(r)) ?? ruleState(r));
    const oldHealth = this.#health.get(device);
    const keepHealth = oldHealth && health && key(oldHealth.rule) === key(health);
    const kept = new Set(states.filter((s) => old.get(key(s.rule)) === s).map((s) => s.rule.name));
    for (const s of old.values()) if (!kept.has(s.rule.name)) this.#pending.delete(s);
    for (const a of [...this.#active.values()]) {
      if (a.device !== device || (a.kind === "threshold" ? kept.has(a.name) : keepHealth)) continue;
      const { name, kind, attr, severity } = a;
      this.#emit({
        t: nowMs / 1000,
        name,
        kind,
        device,
        ...(attr === undefined ? {} : { attr }),
        severity,
        state: "cleared",
        value: this.#currentValue(a),
        message: `${name} cleared: ${why}`,
      });
    }
    if (states.length > 0) this.#byDevice.set(device, states);
    else this.#byDevice.delete(device);
    if (!keepHealth) this.#health.delete(device);
    if (health && !keepHealth) this.#health.set(device, this.#healthState(health, nowMs));
    if (!health) this.#lastReadings.delete(device);
    this.#seen = undefined;
    const c = this.#config;
    this.#config = {
      ...c,
      rules: [...c.rules.filter((r) => r.device !== device), ...rules],
      health: [...c.health.filter((h) => h.device !== device), ...(health ? [health] : [])],
    };
  }

  /** Adds a listener for every transition; returns a function that removes it. */
  on(listener: (event: AlarmEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Feeds one reading (good or failed). Synchronous and cheap; never throws for bad values. */
  observe(reading: Reading): void {
    const tMs = reading.t * 1000;
    let seen = this.#seen;
    if (seen === undefined || seen.device !== reading.device) seen = this.#see(reading.device);
    seen.last.reading = reading;
    const health = seen.health;
    if (health) {
      // Track the real cadence: a device sampled more slowly than configured (a long read, a
      // sampler told otherwise) must not look stale between two on-time samples.
      if (tMs > health.lastSeen) {
        const gap = tMs - health.lastSeen;
        health.observed = health.observed === 0 ? gap : health.observed * 0.8 + gap * 0.2;
      }
      health.lastSeen = tMs;
    }
    if (reading.error !== undefined) {
      if (health) this.#failed(health, reading, tMs);
      return;
    }
    if (health) this.#good(health, tMs);
    const rules = seen.rules;
    if (rules === undefined) return;
    for (let i = 0; i < rules.length; i++) {
      const s = rules[i]!;
      const v = reading.values[s.rule.attr];
      if (v === undefined) continue;
      this.#evaluate(s, v, tMs);
      s.prev = v;
    }
  }

  /** What {@linkcode AlarmEngine.observe} keeps at hand of `device` (the last device seen). */
  #see(device: string): Seen {
    let last = this.#lastReadings.get(device);
    if (last === undefined) {
      last = { reading: { t: 0, device, values: {} } };
      this.#lastReadings.set(device, last);
    }
    return this.#seen = {
      device,
      last,
      health: this.#health.get(device),
      rules: this.#byDevice.get(device),
    };
  }

  /** Advances time (epoch ms): fires alarms whose delay elapsed and devices gone stale. */
  tick(nowMs: number = Date.now()): void {
    for (const s of this.#pending) {
      if (nowMs - s.pendingSince! >= s.rule.delay) this.#activate(s, s.prev ?? null, nowMs);
    }
    for (const h of this.#health.values()) {
      const { staleAfter } = h.rule;
      if (staleAfter <= 0 || h.staleSince !== undefined) continue;
      const interval = Math.max(h.interval, h.observed);
      const silent = nowMs - h.lastGood;
      if (silent >= staleAfter * interval) {
        h.staleSince = nowMs;
        const message = `${h.rule.device}: no good sample for ${seconds(silent)} (${staleAfter} × ${
          seconds(interval)
        } interval)`;
        this.#emitHealth(h, "stale", "active", nowMs, message);
      }
    }
  }

  /** Alarms active now, in activation order. */
  active(): ActiveAlarm[] {
    const out: ActiveAlarm[] = [];
    for (const a of this.#active.values()) {
      out.push({ ...a, value: a.attr === undefined ? null : this.#currentValue(a) });
    }
    return out;
  }

  /**
   * Acknowledges an active alarm (someone has seen it; EPICS' ACKS): it stays active until its
   * condition clears, marked with the time. Returns the alarm, or undefined when no alarm of
   * that name is active. Listeners of {@linkcode AlarmEngine.onAcknowledge} hear of it once.
   */
  acknowledge(name: string, t = Date.now() / 1000): ActiveAlarm | undefined {
    const a = this.#active.get(name);
    if (!a) return undefined;
    if (a.acknowledged === undefined) {
      a.acknowledged = Math.round(t * 1000) / 1000;
      const copy = { ...a };
      for (const fn of this.#ackListeners) {
        try {
          fn(copy);
        } catch {
          // a failing recorder must not make the acknowledgement fail
        }
      }
    }
    return { ...a, value: a.attr === undefined ? null : this.#currentValue(a) };
  }

  /** Calls `fn` with each newly acknowledged alarm; returns an unsubscribe function. */
  onAcknowledge(fn: (alarm: ActiveAlarm) => void): () => void {
    this.#ackListeners.add(fn);
    return () => this.#ackListeners.delete(fn);
  }

  /** Recent transitions, oldest first (at most `historySize`), optionally only after `since` (s). */
  history(since?: number): AlarmEvent[] {
    const h = this.#history;
    const ordered = h.length < this.#historySize
      ? h.slice()
      : [...h.slice(this.#historyStart), ...h.slice(0, this.#historyStart)];
    return since === undefined ? ordered : ordered.filter((e) => e.t > since);
  }

  /** The last reading of each device seen, good or failed. */
  lastReadings(): Reading[] {
    return [...this.#lastReadings.values()].map((l) => l.reading);
  }

  /**
   * The EPICS alarm severity (0 none, 1 minor, 2 major, 3 invalid) of an attribute: the highest
   * of its active threshold alarms and its device's health alarms. Without `attr`, of the device.
   */
  severityOf(device: string, attr?: string): 0 | 1 | 2 | 3 {
    let level: 0 | 1 | 2 | 3 = 0;
    for (const a of this.#active.values()) {
      if (a.device !== device) continue;
      if (attr !== undefined && a.attr !== undefined && a.attr !== attr) continue;
      level = Math.max(level, SEVERITY_LEVEL[a.severity]) as 0 | 1 | 2 | 3;
    }
    return level;
  }

  #evaluate(s: RuleState, v: Value, tMs: number): void {
    if (!s.active) {
      const trips = s.cond.trips(v, s.prev);
      if (trips === undefined) return;
      if (!trips) {
        if (s.pendingSince !== undefined) {
          s.pendingSince = undefined;
          this.#pending.delete(s);
        }
        return;
      }
      if (s.pendingSince === undefined) {
        s.pendingSince = tMs;
        this.#pending.add(s);
      }
      if (tMs - s.pendingSince >= s.rule.delay) this.#activate(s, v, tMs);
    } else if (s.cond.clears(v, s.prev) === true) {
      s.active = false;
      this.#active.delete(s.rule.name);
      const r = s.rule;
      const base = `${r.device}.${r.attr} = ${show(v)}, no longer ${describeCondition(r)}`;
      this.#emitThreshold(
        r,
        "cleared",
        v,
        tMs,
        r.message ? `cleared (${base}): ${s.message}` : base,
      );
    }
  }

  #activate(s: RuleState, v: Value, tMs: number): void {
    s.pendingSince = undefined;
    this.#pending.delete(s);
    s.active = true;
    s.since = tMs;
    const r = s.rule;
    s.message = r.message
      ? fill(r.message, r, v)
      : `${r.device}.${r.attr} = ${show(v)}, ${describeCondition(r)}${
        r.delay > 0 ? ` for ${seconds(r.delay)}` : ""
      }`;
    this.#emitThreshold(r, "active", v, tMs, s.message);
  }

  /** A threshold alarm going active or cleared at `tMs` with the value `v`. */
  #emitThreshold(
    r: RuleState["rule"],
    state: "active" | "cleared",
    v: Value,
    tMs: number,
    message: string,
  ): void {
    this.#emit({
      t: tMs / 1000,
      name: r.name,
      kind: "threshold",
      device: r.device,
      attr: r.attr,
      severity: r.severity,
      state,
      value: v,
      message,
    });
  }

  #failed(h: HealthState, reading: Reading, tMs: number): void {
    h.errors++;
    const { errorAfter, device } = h.rule;
    if (errorAfter > 0 && h.errors >= errorAfter && h.errorSince === undefined) {
      h.errorSince = tMs;
      const message = `${device}: ${h.errors} failed read${
        h.errors > 1 ? "s" : ""
      } in a row: ${reading.error}`;
      this.#emitHealth(h, "error", "active", tMs, message);
    }
  }

  #good(h: HealthState, tMs: number): void {
    h.errors = 0;
    if (tMs > h.lastGood) h.lastGood = tMs;
    const { device } = h.rule;
    if (h.errorSince !== undefined) {
      h.errorSince = undefined;
      this.#emitHealth(h, "error", "cleared", tMs, `${device}: reads succeed again`);
    }
    if (h.staleSince !== undefined) {
      h.staleSince = undefined;
      this.#emitHealth(h, "stale", "cleared", tMs, `${device}: good samples again`);
    }
  }

  /** A device-health alarm (`DEVICE error`, `DEVICE stale`) going active or cleared. */
  #emitHealth(
    h: HealthState,
    kind: "error" | "stale",
    state: "active" | "cleared",
    tMs: number,
    message: string,
  ): void {
    const { device, severity } = h.rule;
    this.#emit({
      t: tMs / 1000,
      name: `${device} ${kind}`,
      kind,
      device,
      severity,
      state,
      value: null,
      message,
    });
  }

  #currentValue(a: ActiveAlarm): Value {
    const v = this.#lastReadings.get(a.device)?.reading.values[a.attr!];
    return v === undefined ? a.value : v;
  }

  #emit(event: AlarmEvent): void {
    if (event.state === "active") {
      this.#active.set(event.name, {
        name: event.name,
        kind: event.kind,
        device: event.device,
        ...(event.attr === undefined ? {} : { attr: event.attr }),
        severity: event.severity,
        since: event.t,
        value: event.value,
        message: event.message,
      });
    } else {
      this.#active.delete(event.name);
    }
    if (this.#history.length < this.#historySize) this.#history.push(event);
    else {
      this.#history[this.#historyStart] = event;
      this.#historyStart = (this.#historyStart + 1) % this.#historySize;
    }
    try {
      this.#log(formatEvent(event));
    } catch {
      // A broken log sink (closed stderr) must not stop alarms from reaching listeners.
    }
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        try {
          this.#log(`alarm listener failed: ${(err as Error)?.message ?? err}`);
        } catch {
          // nothing left to tell
        }
      }
    }
  }
}

function ruleState(rule: ThresholdRule): RuleState {
  return {
    rule,
    cond: compileCondition(rule),
    active: false,
    pendingSince: undefined,
    prev: undefined,
    since: 0,
    message: "",
  };
}
