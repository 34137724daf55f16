/**
 * Where a scan leaves its positioners once its points are taken: `--goto` moves the first one
 * to a peak statistic of the first detector (a completed scan only), and relative positioners
 * return to where they started (or to the `--goto` position) — except after a stop at once,
 * which says so instead of moving.
 *
 * @module
 */
import { errorMessage, UsageError } from "../device/errors.ts";
import type { ScanState } from "../session/scan_store.ts";
import { gotoPosition, type PeakStats } from "./peak.ts";
import type { Plan } from "./plan.ts";
import { moveTo, type Positioner } from "./positioners.ts";
import type { ScanRequest } from "./request.ts";
import type { ScanStatus } from "./run_status.ts";

/** What the end of a scan needs to know to place its positioners. */
export interface EndOfScan {
  /** The scan. */
  request: ScanRequest;
  /** Its points. */
  plan: Plan;
  /** Start positions of the positioners. */
  origin: readonly number[];
  /** The plan's positioners, resolved. */
  positioners: Positioner[];
  /** Peak statistics per detector, when collected. */
  stats: Record<string, PeakStats> | undefined;
  /** How the points ended (`--goto` moves after `done` only). */
  outcome: ScanState;
  /** Aborted when the scan was stopped at once. */
  signal: AbortSignal;
  /** Where a move that failed (or was not made) is told. */
  warn: (message: string) => void;
}

/**
 * Makes the end moves; says where `--goto` went (`moved_to`) and whether relative positioners
 * were returned (`returned`, undefined for an absolute plan). Failures are warned, not thrown.
 */
export async function endMoves(
  end: EndOfScan,
): Promise<Pick<ScanStatus, "moved_to" | "returned">> {
  const { request, positioners, signal, warn } = end;
  const out: Pick<ScanStatus, "moved_to" | "returned"> = {};
  // --goto: a completed scan leaves its first positioner at the statistic (relative or not)
  const ends = [...end.origin];
  let gone = false;
  if (request.goto !== undefined && end.outcome === "done" && positioners.length > 0) {
    const what = request.goto;
    const detector = request.detectors[0]!;
    try {
      const s = end.stats?.[detector];
      if (!s) throw new UsageError(`--goto ${what}: no statistics of ${detector}`);
      const position = gotoPosition(s, what, detector);
      await moveTo(positioners[0]!, position, request, signal);
      out.moved_to = { positioner: positioners[0]!.ref, target: what, position };
      ends[0] = position;
      gone = true;
    } catch (err) {
      warn(errorMessage(err));
    }
  }
  if (end.plan.relative && positioners.length > 0 && !(gone && positioners.length === 1)) {
    const refs = positioners.map((p) => p.ref).join(", ");
    if (signal.aborted) {
      out.returned = false;
      warn(`stopped at once: ${refs} not returned to ${end.origin.join(", ")}`);
    } else {
      try {
        await Promise.all(positioners.map((p, k) => moveTo(p, ends[k]!, request, signal)));
        out.returned = true;
      } catch (err) {
        out.returned = false;
        warn(`could not return ${refs} to start: ${errorMessage(err)}`);
      }
    }
  }
  return out;
}
