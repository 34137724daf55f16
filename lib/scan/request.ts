/**
 * What defines a scan, as plain JSON: stored with it, sent to `POST /api/scans`, and read back by
 * `scan --resume`.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { GotoTarget } from "./peak.ts";
import type { PlanSpec } from "./plan.ts";

/** Everything that defines a scan; plain JSON, stored with it (and sent to `POST /api/scans`). */
export interface ScanRequest {
  /** The points. */
  plan: PlanSpec;
  /** `device.attr` of every detector read at each point. */
  detectors: string[];
  /** Wait after the positioners are done, before reading, ms (default 0). */
  settleMs?: number;
  /**
   * `device.action` run at every point after the settle, before the detectors are read (a
   * DMM's `initiate` or `trigger`, a counter's start): writable booleans, written `true`.
   */
  triggers?: string[];
  /** Detectors are sampled repeatedly (about every 10 ms) for this long and numeric values averaged, ms (default 0: one read). */
  dwellMs?: number;
  /** A positioner is "there" when its read-back is this close to the target; default from the attr's precision. */
  tolerance?: number;
  /** Longest wait for a move to finish before the scan fails, ms (default 60 s). */
  moveTimeoutMs?: number;
  /**
   * Read-back per positioner: an attribute of the same device (`{"motor.position": "readback"}`)
   * or any `device.attr` (`{"m1.value": "m1_rbv.value"}`, e.g. EPICS .VAL/.RBV PVs); by default
   * `ATTR_readback`, `ATTR_rbv`, `readback` or `rbv` when the device has one, else the attr itself.
   */
  readbacks?: Record<string, string>;
  /** Poll period while waiting for a move, ms (default 10). */
  pollMs?: number;
  /**
   * When the scan completes, move the first positioner to this statistic of the first detector
   * (Spec's `pic`/`cen`, bluesky's `PeakStats`) instead of leaving it or returning it.
   */
  goto?: GotoTarget;
  /**
   * Settings for the scan (`--set DEV.ATTR=VALUE`): written before the first move, in order; the
   * values they had are written back when the scan ends (not after a stop at once).
   */
  settings?: Record<string, Value>;
  /** Devices read (their default reading) at the start and the end, stored with the scan. */
  baseline?: string[];
  /**
   * Alarms that suspend the scan while active (`["any"]`: every alarm): the point they
   * interrupt is taken again once they have been clear for `resumeAfterMs`.
   */
  suspendOn?: string[];
  /** How long a suspending alarm must have been clear before the scan resumes, ms (default 5 s). */
  resumeAfterMs?: number;
  /** How the caller opened devices (CLI flags), kept so `--resume` can reopen them. */
  context?: Record<string, unknown>;
}

/**
 * Every `device.attr` a scan touches: its positioners, detectors and read-backs on other
 * devices.
 *
 * @example
 * ```ts
 * import { scanRefs } from "./request.ts";
 * scanRefs({
 *   plan: { kind: "list", relative: false, positioners: ["m.x"], points: [[1]] },
 *   detectors: ["d.c"],
 *   readbacks: { "m.x": "enc.pos" },
 * }); // ["m.x", "d.c", "enc.pos"]
 * ```
 */
export function scanRefs(request: ScanRequest): string[] {
  return [
    ...planPositioners(request.plan),
    ...request.detectors,
    ...Object.values(request.readbacks ?? {}).filter((r) => r.includes(".")),
    ...Object.keys(request.settings ?? {}),
  ];
}

/** Every device a scan needs open: those of {@linkcode scanRefs} and its baseline devices. */
export function scanDeviceNames(request: ScanRequest): string[] {
  const names = scanRefs(request).map((r) => r.slice(0, r.indexOf(".")));
  return [...new Set([...names, ...(request.baseline ?? [])])];
}

function planPositioners(plan: PlanSpec): string[] {
  switch (plan.kind) {
    case "line":
    case "mesh":
      return plan.axes.map((a) => a.positioner);
    case "list":
      return plan.positioners;
    case "count":
      return [];
  }
}
