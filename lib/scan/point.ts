/**
 * One point of a scan: every positioner written at once and waited for, the settle time, the
 * `--triggers` and the detectors' own triggers, then every detector read (averaged over the dwell
 * time). The runner (runner.ts) calls it for each point of its plan.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { Lab } from "../lab/lab.ts";
import { sleep } from "../schedule/periodic.ts";
import type { ScanPoint } from "../session/scan_store.ts";
import {
  type DetectorGroup,
  type DetectorTrigger,
  dwellDetectors,
  readDetectors,
  triggerDetectors,
} from "./detectors.ts";
import { absolute, parseRef, type Plan } from "./plan.ts";
import { moveTo, type Positioner } from "./positioners.ts";
import type { ScanRequest } from "./request.ts";

/** What taking a point needs: the scan, its resolved devices and where relative positions start. */
export interface PointDevices {
  /** The lab the devices are in. */
  lab: Lab;
  /** The scan. */
  request: ScanRequest;
  /** Its points. */
  plan: Plan;
  /** Start positions of the positioners (the origin of relative plans). */
  origin: readonly number[];
  /** The plan's positioners, resolved. */
  positioners: Positioner[];
  /** The detectors, grouped by device. */
  groups: DetectorGroup[];
  /** The detectors that are triggered before each read. */
  detTriggers: DetectorTrigger[];
}

/** Takes point `i`: moves, settles, triggers and reads; throws on a device error or an abort. */
export async function takePoint(
  scan: PointDevices,
  i: number,
  signal: AbortSignal,
): Promise<ScanPoint> {
  const { lab, request, positioners, groups } = scan;
  const targets = absolute(scan.plan, i, scan.origin);
  let readbacks: Value[];
  if (positioners.length === 1) {
    readbacks = [await moveTo(positioners[0]!, targets[0]!, request, signal)];
  } else {
    readbacks = await Promise.all(
      positioners.map((p, k) => moveTo(p, targets[k]!, request, signal)),
    );
  }
  const settle = request.settleMs ?? 0;
  if (settle > 0) {
    await sleep(settle, signal);
    signal.throwIfAborted();
  }
  for (const ref of request.triggers ?? []) {
    const { device, attr } = parseRef(ref);
    await lab.get(device).write(attr, true, { signal });
  }
  if (scan.detTriggers.length > 0) {
    await triggerDetectors(scan.detTriggers, signal, request.moveTimeoutMs, request.pollMs);
  }
  const values = new Array<Value>(request.detectors.length);
  const dwell = request.dwellMs ?? 0;
  const t = dwell > 0
    ? await dwellDetectors(groups, values, dwell, signal)
    : await readDetectors(groups, values, signal);
  return { index: i, t, positions: targets, readbacks, values };
}
