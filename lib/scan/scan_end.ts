/**
 * How `labwire scan` ends a run: an interrupted or failed scan leaves its positioners' devices in
 * their configured safe states (recorded as session events), and stderr says how it went — the
 * peak statistics, the baseline and restored settings, and the points kept with how to resume.
 *
 * @module
 */
import type { Lab } from "../lab/lab.ts";
import { applySafeState, safeStateMessage } from "../lab/safe_state.ts";
import type { Paint } from "../output/terminal.ts";
import type { SessionStore } from "../session/store.ts";
import { parseRef } from "./plan.ts";
import type { ScanResult } from "./run_status.ts";
import { statsLines } from "./scan_table.ts";

/**
 * Puts the devices of `positioners` in their safe states after a scan that did not complete
 * (nothing for a `done` one); each result is said and recorded in the session.
 */
export async function scanSafeStates(
  lab: Lab,
  positioners: readonly string[],
  result: ScanResult,
  session: SessionStore | undefined,
  say: (line: string) => void,
): Promise<void> {
  if (result.state === "done") return;
  const devices = new Set(positioners.map((r) => parseRef(r).device));
  for (const d of devices) {
    const r = await applySafeState(lab.get(d), `scan ${result.state}`);
    if (!r) continue;
    say(`labwire scan: ${safeStateMessage(r)}`);
    session?.event({
      kind: "safe_state",
      severity: r.ok ? "info" : "major",
      device: r.device,
      message: safeStateMessage(r),
      data: r,
    });
  }
}

/** What {@linkcode sayScanEnd} needs besides the result. */
export interface ScanEndContext {
  /** Colours. */
  paint: Paint;
  /** Where lines go (stderr). */
  say: (line: string) => void;
  /** The session file the scan is recorded in, if any (named in the resume hint). */
  sessionFile?: string;
  /** The `--baseline` devices. */
  baseline?: readonly string[];
  /** Decimal digits per `device.attr`, for the statistics. */
  precision: Record<string, number>;
  /** True when stdout was closed: an interrupted scan then ends quietly. */
  pipeClosed: boolean;
}

/** Says how the scan ended: statistics, baseline, restored settings, then points and state. */
export function sayScanEnd(result: ScanResult, ctx: ScanEndContext): void {
  const { paint: p, say, sessionFile } = ctx;
  const where = result.id !== undefined && sessionFile
    ? ` (scan ${result.id} in ${sessionFile})`
    : "";
  const took = result.started && result.ended
    ? ` in ${(result.ended - result.started).toFixed(1)} s`
    : "";
  // The reader that closed the pipe took what it wanted: statistics of the points up to there
  // would be noise on its terminal.
  if (!ctx.pipeClosed) { for (const line of statsLines(result, ctx.precision)) say(line); }
  if (result.baseline) {
    const ends = result.baseline.end ? "start and end" : "start";
    say(p.dim(`baseline: ${ctx.baseline!.join(", ")} read at the ${ends}${where}`));
  }
  if (result.settings && result.restored) {
    say(
      p.dim(
        `restored ${
          Object.entries(result.settings).map(([r, s]) => `${r}=${JSON.stringify(s.previous)}`)
            .join(", ")
        }`,
      ),
    );
  }
  if (result.state === "done") {
    say(p.dim(`done: ${result.recorded} of ${result.total} points${took}${where}`));
  } else {
    const resumeHint = result.id !== undefined && sessionFile
      ? `; resume with: labwire scan --resume ${sessionFile} --scan ${result.id}`
      : "";
    const returned = result.returned ? "; relative positioners returned to their start" : "";
    const msg =
      `${result.state}: ${result.recorded} of ${result.total} points kept${took}${returned}${resumeHint}`;
    if (result.state === "failed") say(`${p.red("labwire scan:")} ${result.error}\n${msg}`);
    else if (!ctx.pipeClosed) say(`${p.yellow("labwire scan:")} ${msg}`);
  }
}
