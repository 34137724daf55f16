/**
 * What a scan run says about itself: its state, the status snapshot progress displays and
 * `GET /api/scans/{id}` show, how it ended, the options it takes, and the error its in-flight
 * calls are aborted with. `ScanRun` (runner.ts) produces them.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { AlarmSource } from "../alarm/engine.ts";
import type { ScanState, ScanStore } from "../session/scan_store.ts";
import type { PeakStats } from "./peak.ts";
import type { BaselineReading } from "./settings.ts";

/** Points a run keeps in memory by default (the latest; all of them go to listeners and the store). */
export const KEEP_POINTS = 1000;

/** Where a run is; `pending` before start, `stopping` after `ScanRun.stop`. */
export type RunState = "pending" | "running" | "stopping" | ScanState;

/** A snapshot of a run, for progress displays and `GET /api/scans/{id}`. */
export interface ScanStatus {
  /** Scan id in the session, when recorded. */
  id?: number;
  /** Current state. */
  state: RunState;
  /** Points in the plan. */
  total: number;
  /** Points recorded (including those of earlier runs of a resumed scan). */
  recorded: number;
  /** Points recorded by this run. */
  recorded_this_run: number;
  /** Points this run set out to do. */
  todo_this_run: number;
  /** When this run started, Unix epoch seconds. */
  started?: number;
  /** When it ended. */
  ended?: number;
  /** Why it failed or stopped. */
  error?: string;
  /** True when relative positioners were returned to their start. */
  returned?: boolean;
  /** Peak statistics per detector (`device.attr`), once the scan ended. */
  stats?: Record<string, PeakStats>;
  /** Where `goto` moved the first positioner, once it did. */
  moved_to?: { positioner: string; target: string; position: number };
  /** While suspended: since when (epoch seconds) and by which alarms. */
  suspended?: { since: number; alarms: string[] };
  /** How many times the scan was suspended. */
  suspensions?: number;
  /** Points taken again because a suspending alarm interrupted them. */
  retaken?: number;
  /** `settings` (`--set`) as applied: previous and new value per `device.attr`. */
  settings?: Record<string, { previous: Value; value: Value }>;
  /** True once the settings were restored (false when one could not be). */
  restored?: boolean;
  /** The baseline devices' readings at the `start` and `end` of the scan. */
  baseline?: { start?: Record<string, BaselineReading>; end?: Record<string, BaselineReading> };
}

/** How a run ended. */
export interface ScanResult extends ScanStatus {
  /** `done`, `stopped` (interrupted after a point), `aborted` (stopped at once) or `failed` (device error). */
  state: ScanState;
}

/** Options of a run. */
export interface ScanRunOptions {
  /** Records the scan and its points. */
  store?: ScanStore;
  /** The command line or API call, stored with the scan. */
  command?: string;
  /** Resume this stored scan (its request must match the one given). */
  resumeId?: number;
  /** Longest time a point waits in memory before it is written to the store, ms (default 250). */
  flushMs?: number;
  /** Points per store transaction at most (default 1000). */
  batch?: number;
  /** Warnings (e.g. a positioner that could not be returned) go here; default: stderr. */
  warn?: (message: string) => void;
  /** Most points the plan may have (default `MAX_SCAN_POINTS`, 1,000,000). */
  maxPoints?: number;
  /** How to raise `maxPoints`, said when a plan is over it. */
  limitHint?: string;
  /**
   * Latest points kept in `ScanRun.points` (default {@linkcode KEEP_POINTS}). 0 with a
   * store keeps only the points not written yet: the store has the others, and a long fast scan
   * then holds no point long enough for the garbage collector to promote it.
   */
  keepPoints?: number;
  /**
   * The alarms the request's `suspendOn` names (the lab's alarm engine); a request with
   * `suspendOn` and no alarms is refused.
   */
  alarms?: Pick<AlarmSource, "active" | "history">;
}

/** The error a run's in-flight calls are aborted with on `ScanRun.abort`. */
export class ScanInterrupted extends Error {
  /** Creates the error. */
  constructor(message = "scan interrupted") {
    super(message);
    this.name = "ScanInterrupted";
  }
}
