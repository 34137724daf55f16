/**
 * Suspenders (bluesky's): a scan given `suspendOn` alarms pauses while one of them is active and
 * resumes once they have all been clear for `resumeAfterMs`; a point during which one became
 * active is taken again. The alarms come from the lab's alarm engine (`monitor`/`serve` sample
 * and evaluate them; `labwire scan` samples the devices of the alarms it suspends on).
 *
 * @module
 */
import type { ActiveAlarm, AlarmEngine, AlarmSource } from "../alarm/engine.ts";
import type { AlarmEvent } from "../alarm/event.ts";
import { type AlarmConfig, parseAlarms } from "../alarm/rules.ts";
import { startAlarms } from "../alarm/watch.ts";
import type { LabConfig } from "../config/load.ts";
import type { Lab } from "../lab/lab.ts";
import { Sampler } from "../lab/sampler.ts";
import { UsageError } from "../device/errors.ts";
import { sleep } from "../schedule/periodic.ts";

/** Default wait after the last suspending alarm cleared, ms. */
export const DEFAULT_RESUME_AFTER_MS = 5000;

/** How often a suspended scan looks at the alarms again, ms. */
const POLL_MS = 50;

/** Watches the alarms a scan suspends on. */
export class Suspender {
  readonly #any: boolean;
  readonly #names: Set<string>;

  /** Suspends on `names` (`["any"]` for every alarm) of `alarms`. */
  constructor(
    readonly alarms: Pick<AlarmSource, "active" | "history">,
    names: readonly string[],
    readonly resumeAfterMs = DEFAULT_RESUME_AFTER_MS,
  ) {
    this.#any = names.includes("any");
    this.#names = new Set(names);
  }

  /** The suspending alarms active now. */
  active(): ActiveAlarm[] {
    return this.alarms.active().filter((a) => this.#any || this.#names.has(a.name));
  }

  /** Where the alarm history is now: give it to {@linkcode Suspender.trippedSince} later. */
  mark(): AlarmEvent | undefined {
    return this.alarms.history().at(-1);
  }

  /** True when a suspending alarm is active now or became active after `mark`. */
  trippedSince(mark: AlarmEvent | undefined): boolean {
    if (this.active().length > 0) return true;
    const h = this.alarms.history();
    // the events after the mark (all of them when it has left the bounded history)
    const from = mark === undefined ? 0 : h.lastIndexOf(mark) + 1;
    for (let i = from; i < h.length; i++) {
      const e = h[i]!;
      if (e.state === "active" && (this.#any || this.#names.has(e.name))) return true;
    }
    return false;
  }

  /**
   * Waits until no suspending alarm has been active for `resumeAfterMs` (at once when none is
   * active); `onSuspend` is told which alarms when it has to wait, `stopped()` ends the wait
   * early (the scan was stopped). Returns whether it waited.
   */
  async waitClear(
    signal: AbortSignal,
    stopped: () => boolean,
    onSuspend: (alarms: ActiveAlarm[]) => void,
  ): Promise<boolean> {
    let active = this.active();
    if (active.length === 0) return false;
    onSuspend(active);
    let clearSince: number | undefined;
    while (!stopped()) {
      await sleep(POLL_MS, signal);
      signal.throwIfAborted();
      active = this.active();
      if (active.length > 0) clearSince = undefined;
      else {
        clearSince ??= performance.now();
        if (performance.now() - clearSince >= this.resumeAfterMs) break;
      }
    }
    return true;
  }
}

/**
 * Checks `--suspend-on` names against the configured alarm names (`any` is always valid).
 *
 * @example
 * ```ts
 * import { checkSuspendNames } from "./suspender.ts";
 * checkSuspendNames(["any"], []); // no error
 * ```
 */
export function checkSuspendNames(names: readonly string[], known: readonly string[]): void {
  for (const n of names) {
    if (n === "any" || known.includes(n)) continue;
    throw new UsageError(
      `--suspend-on: no alarm "${n}"${known.length ? `; alarms: ${known.join(", ")}` : ""}`,
      known.length
        ? "give an alarm name from [[alarms]] in the config, or any"
        : "add [[alarms]] with a name to the config",
    );
  }
}

/** The alarms a `labwire scan` runs for its suspenders, and how to stop them. */
export interface ScanAlarms {
  /** The engine the runner asks. */
  engine: AlarmEngine;
  /** The devices sampled for them. */
  devices: string[];
  /** Stops the sampling and the engine. */
  close(): Promise<void>;
}

/**
 * The threshold rules `names` selects from the config (`any`: all of them) and the devices they
 * watch; unknown names are a usage error listing the alarms there are.
 */
export function suspendRules(config: LabConfig, names: readonly string[]): AlarmConfig {
  const all = parseAlarms(config);
  checkSuspendNames(names, all.rules.map((r) => r.name));
  const rules = names.includes("any") ? all.rules : all.rules.filter((r) => names.includes(r.name));
  const devices = new Set(rules.map((r) => r.device));
  // with "any", the watched devices' own health (errors, stale readings) suspends too
  const health = names.includes("any") ? all.health.filter((h) => devices.has(h.device)) : [];
  return { rules, health };
}

/**
 * Runs `alarms` over `lab` for a command-line scan, which has no sampler of its own: the devices
 * the rules watch are sampled at their configured intervals (their readings feed the engine).
 */
export function startScanAlarms(
  lab: Lab,
  alarms: AlarmConfig,
  log: (line: string) => void,
): ScanAlarms {
  const watch = startAlarms(lab, { alarms, notify: false, log });
  if (!watch) throw new UsageError("--suspend-on: no alarm rules to watch");
  const devices = [...new Set(alarms.rules.map((r) => r.device))];
  const stop = new AbortController();
  const sampling = new Sampler(lab, { devices, signal: stop.signal }).run();
  return {
    engine: watch.engine,
    devices,
    async close() {
      stop.abort();
      await sampling.catch(() => {});
      await watch.close();
    },
  };
}
