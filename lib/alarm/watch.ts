/**
 * Alarms and notifications of a Lab, on their own: the alarm engine observes every reading of
 * every device manager, ticks for stale devices, and hands transitions to the notifier. Nothing
 * here depends on a session: `monitor` and `serve` record alarm transitions by listening to the
 * engine, and `serve --no-record` (or a failing store) keeps alarms, notifications and Channel
 * Access alarm severities exactly as they are with a recording.
 *
 * Attribute checks of the rules need each device's attribute list. They never hold sampling
 * back: a device that answers within `checkWithinMs` is checked before {@linkcode AlarmWatch.checked}
 * settles (a typo is a config error at start), one that answers later (a hung instrument) is
 * checked when it answers, and a mismatch then is logged.
 *
 * @module
 */
import type { Attr } from "../device/attr.ts";
import { ConfigError, errorMessage } from "../device/errors.ts";
import type { LabConfig } from "../config/load.ts";
import type { Lab } from "../lab/lab.ts";
import type { DeviceManager } from "../lab/manager.ts";
import { AlarmEngine } from "./engine.ts";
import type { AlarmEvent } from "./event.ts";
import { Notifier } from "./notifier.ts";
import { type NotifyConfig, parseNotify } from "./notify_config.ts";
import { type AlarmConfig, checkAlarmAttrs, healthRuleOf, parseAlarms } from "./rules.ts";

/** Options of {@linkcode startAlarms}. */
export interface AlarmWatchOptions {
  /** Alarm rules; default: parsed from the Lab's config. `false` for none. */
  alarms?: AlarmConfig | false;
  /** Notification sinks; default: parsed from the Lab's config (`[notify]`). `false` for none. */
  notify?: NotifyConfig | false;
  /** Receives each alarm transition line and notifier log line (default: stderr). */
  log?: (line: string) => void;
  /** A watch even without rules or devices: `serve` may get devices at run time. */
  always?: boolean;
  /** How long `checked` waits for devices' attribute lists, ms (default 2000). */
  checkWithinMs?: number;
}

/** Alarms (and notifications) running over a Lab. */
export interface AlarmWatch {
  /** The engine (active alarms, history, severities for Channel Access). */
  readonly engine: AlarmEngine;
  /** The notifier, when `[notify]` configures sinks. */
  readonly notifier: Notifier | undefined;
  /**
   * Settles once the rules of every device that listed its attributes within `checkWithinMs`
   * are checked; rejects with a `ConfigError` when a rule names a missing or unsuitable attribute.
   */
  readonly checked: Promise<void>;
  /**
   * Takes the alarm rules of a re-read config (SIGHUP): the devices there now get theirs at once
   * (unchanged rules keep their state), devices added later get theirs when they come. Throws a
   * `ConfigError` (and changes nothing) when the new `[[alarms]]` are wrong.
   */
  reconfigure(config: LabConfig): void;
  /**
   * Stops the ticks that find stale devices (no good sample within their intervals): sampling has
   * ended, so a device not sampled since is not stale. Readings are still observed.
   */
  stopTicking(): void;
  /** Stops observing and ticking; flushes the notifier within `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Starts the alarms of `lab` at once (no device call is awaited): returns undefined when the
 * config has no rules and no health alarms.
 *
 * @example
 * ```ts ignore
 * const watch = startAlarms(lab, { log: (l) => console.error(l) });
 * await watch?.checked;           // config errors of alarm rules surface here
 * watch?.engine.on((e) => console.log(e.state, e.name));
 * await watch?.close();
 * ```
 */
export function startAlarms(lab: Lab, opts: AlarmWatchOptions = {}): AlarmWatch | undefined {
  const config = opts.alarms === undefined ? parseAlarms(lab.config) : opts.alarms;
  if (!config || (config.rules.length === 0 && config.health.length === 0 && !opts.always)) {
    return undefined;
  }
  const notifyConfig = opts.notify === undefined ? parseNotify(lab.config) : opts.notify;
  const engine = new AlarmEngine(config, { log: opts.log });
  // The rules as configured (a device's rules wait there while it is away, e.g. being reopened).
  let current: AlarmConfig = config;
  const offs: (() => void)[] = [];
  const observing = new Map<DeviceManager, () => void>();
  const timer = setInterval(() => engine.tick(), 250);
  const units = new Map<string, string | undefined>();
  let notifier: Notifier | undefined;
  if (notifyConfig && (notifyConfig.sinks.length > 0 || notifyConfig.digest)) {
    const n = Notifier.fromConfig(notifyConfig, { file: lab.config.file, log: opts.log });
    notifier = n;
    offs.push(engine.on((e: AlarmEvent) => n.notify(e)));
    n.startDigest(engine, (device, attr) => units.get(`${device}.${attr}`));
  }
  let closed = false;
  let early = true;
  const log = opts.log ?? ((line: string) => console.error(line));
  const check = (device: string, attrs: readonly Attr[]) => {
    for (const a of attrs) units.set(`${device}.${a.name}`, a.units);
    const only = { ...current, rules: current.rules.filter((r) => r.device === device) };
    try {
      checkAlarmAttrs(only, () => attrs, lab.config.file);
    } catch (err) {
      if (early) throw err;
      // Past start-up there is no one to refuse: the rule stays inert, and the log says why.
      if (!closed) log(`alarm rule for ${device} cannot apply: ${errorMessage(err)}`);
    }
  };
  const stopping = new AbortController();
  const checkAttrs = (m: DeviceManager) =>
    m.attrs({ signal: stopping.signal }).then((attrs) => check(m.name, attrs), (err) => {
      if (err instanceof ConfigError) throw err;
      // A device that cannot list its attributes is checked by nobody; its readings still count.
    });
  // A device's rules from `current` (a device added, changed, or its rules reloaded).
  const apply = (m: DeviceManager, why: string) => {
    const rules = current.rules.filter((r) => r.device === m.name);
    engine.setDevice(m.name, rules, healthRuleOf(current, m.name, m.config.interval), why);
    // past start-up a mismatch is logged in `check`
    checkAttrs(m).catch(() => {});
  };
  // One wiring for the devices open now (the engine was built with their rules, and `checked`
  // waits for their attribute checks) and for those added, changed or removed at run time (POST/
  // DELETE /api/devices, SIGHUP): readings observed, attributes checked, rules gone with the device.
  let starting: Promise<void>[] | undefined = [];
  offs.push(lab.eachDevice((m) => {
    if (starting) starting.push(checkAttrs(m));
    else apply(m, `device ${m.name} added`);
    const off = m.onReading((r) => engine.observe(r));
    observing.set(m, off);
    return () => {
      off();
      observing.delete(m);
      engine.setDevice(m.name, [], undefined, `device ${m.name} removed`);
    };
  }));
  const each = starting;
  starting = undefined;
  const within = opts.checkWithinMs ?? 2000;
  const checked = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      early = false;
      resolve();
    }, within);
    Promise.all(each).then(() => {
      clearTimeout(t);
      early = false;
      resolve();
    }, (err) => {
      clearTimeout(t);
      early = false;
      reject(err);
    });
  });
  // Late devices' mismatches are logged in `check`; nothing else can reject once `checked` settled.
  for (const p of each) p.catch(() => {});
  return {
    engine,
    notifier,
    checked,
    reconfigure(next: LabConfig) {
      current = parseAlarms(next);
      for (const m of lab.managers) apply(m, "alarm rules reloaded");
    },
    stopTicking() {
      clearInterval(timer);
    },
    async close(timeoutMs = 5000) {
      if (closed) return;
      closed = true;
      stopping.abort(new Error("alarms stopped"));
      clearInterval(timer);
      for (const off of [...offs, ...observing.values()]) off();
      // Bounded: a hung mail server cannot keep the process from exiting.
      await notifier?.close(timeoutMs);
    },
  };
}
