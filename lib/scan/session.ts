/**
 * A scan's life outside the runner, shared by `labwire scan` and anything else that runs scans
 * from a session file: which devices a scan needs, resuming a recorded scan (its request,
 * devices and session come from the file), opening the session, listing the scanned devices
 * and attributes in it, and the start/end events `session info` shows.
 *
 * @module
 */
import type { DeviceConfig, LabConfig } from "../config/load.ts";
import { resolveTargets } from "../config/targets.ts";
import type { Attr } from "../device/attr.ts";
import { UsageError } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import { ScanStore } from "../session/scan_store.ts";
import { type SegmentMeta, SessionStore } from "../session/store.ts";
import { parseRef } from "./plan.ts";
import { scanDeviceNames, scanRefs, type ScanRequest } from "./request.ts";
import type { ScanResult, ScanStatus } from "./run_status.ts";

/**
 * The device configs a scan needs: its `--devices` plus every device its refs and baseline name
 * and the devices of the alarms that suspend it (`alarmDevices`), from the config. A device
 * neither given nor configured is a usage error that says how to open it.
 */
export function scanDevices(
  request: ScanRequest,
  extra: readonly string[],
  config: LabConfig,
  alarmDevices?: readonly string[],
): DeviceConfig[] {
  const out = resolveTargets(extra, config);
  const names = [...new Set([...scanDeviceNames(request), ...(alarmDevices ?? [])])];
  const missing = names.filter((n) => !out.some((c) => c.name === n));
  if (missing.length > 0) {
    try {
      out.push(...resolveTargets(missing, config));
    } catch (err) {
      if (err instanceof UsageError && !config.devices.some((d) => missing.includes(d.name))) {
        throw new UsageError(
          err.message,
          `open it with --devices ADDRESS (e.g. --devices sim://${
            missing[0]
          }), or use --demo or --config FILE`,
        );
      }
      throw err;
    }
  }
  return out;
}

/** A recorded scan opened to finish it: its session, id, request and how its devices were opened. */
export interface ResumedScan {
  /** The session file, open for appending (close it when done). */
  session: SessionStore;
  /** The scan's id in the session. */
  id: number;
  /** The stored request. */
  request: ScanRequest;
  /** `--demo` of the first run. */
  demo: boolean;
  /** `--config` of the first run, when there was one. */
  config?: string;
  /** `--devices` of the first run. */
  devices: string[];
}

/**
 * Opens `file` and finds the scan to resume: `scanId`, or the last unfinished one. A missing
 * file or a complete scan is a usage error (the session is closed again then).
 */
export function resumeScan(
  file: string,
  scanId: number | undefined,
  segment: SegmentMeta,
): ResumedScan {
  try {
    Deno.statSync(file);
  } catch {
    // any stat failure (missing, no permission) means there is nothing to resume from here
    throw new UsageError(`--resume: no session file ${file}`);
  }
  const session = SessionStore.open(file, { segment });
  const store = new ScanStore(() => session.db);
  const rec = scanId !== undefined ? store.get(scanId) : store.lastUnfinished();
  if (!rec) {
    session.close("nothing to resume");
    throw new UsageError(`--resume: every scan in ${file} is complete`);
  }
  if (rec.state === "done") {
    session.close("nothing to resume");
    throw new UsageError(`--resume: scan ${rec.id} in ${file} is already complete`);
  }
  const request = rec.plan as ScanRequest;
  const ctx = request.context ?? {};
  return {
    session,
    id: rec.id,
    request,
    demo: ctx.demo === true,
    ...(typeof ctx.config === "string" ? { config: ctx.config } : {}),
    devices: Array.isArray(ctx.devices) ? ctx.devices as string[] : [],
  };
}

/** A scanned device as the session lists it: what it is, and the attributes the scan uses. */
export interface ScanDeviceRecord {
  /** Device name, address and driver. */
  device: { name: string; address: string; driver: string };
  /** The attributes of it the scan names (none when its attributes could not be listed). */
  attrs: Attr[];
}

/**
 * The scanned devices and attributes to list in the session (so `session info` shows them),
 * gathered before the session is opened ({@linkcode recordScanDevices} writes them).
 */
export async function scanDeviceRecords(
  lab: Lab,
  request: ScanRequest,
): Promise<ScanDeviceRecord[]> {
  const refs = scanRefs(request).map(parseRef);
  const out: ScanDeviceRecord[] = [];
  for (const m of lab.managers) {
    const device = { name: m.name, address: m.device.address, driver: m.device.driver };
    let attrs: readonly Attr[] = [];
    try {
      attrs = await m.attrs();
    } catch {
      // the scan itself will report the device
    }
    const used = attrs.filter((a) => refs.some((r) => r.device === m.name && r.attr === a.name));
    out.push({ device, attrs: used });
  }
  return out;
}

/** Lists the scanned devices and attributes in the session (see {@linkcode scanDeviceRecords}). */
export function recordScanDevices(session: SessionStore, records: ScanDeviceRecord[]): void {
  for (const r of records) {
    const id = session.device(r.device);
    for (const a of r.attrs) session.attr(id, a);
  }
}

/** Records that a scan started (or resumed) in the session's events; returns what it said. */
export function scanStartedEvent(
  session: SessionStore | undefined,
  s: ScanStatus,
  command: string,
  resumed: boolean,
): string {
  const what = resumed
    ? `resuming scan ${s.id} at point ${s.recorded}`
    : `scan${s.id !== undefined ? ` ${s.id}` : ""}`;
  session?.event({ kind: "scan", message: `${what} started: ${command}`, data: { scan: s.id } });
  return what;
}

/** Records how a scan ended in the session's events (a failed scan is a major event). */
export function scanEndedEvent(session: SessionStore | undefined, result: ScanResult): void {
  session?.event({
    kind: "scan",
    severity: result.state === "failed" ? "major" : "info",
    message: `scan ${result.id} ${result.state}: ${result.recorded} of ${result.total} points${
      result.error ? ` (${result.error})` : ""
    }`,
    data: { scan: result.id, state: result.state, recorded: result.recorded },
  });
}
