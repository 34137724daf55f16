/**
 * The detectors of a scan: grouped by device (one read per device and point, the values put back
 * in the order the scan lists them), read once or averaged over a dwell time.
 *
 * @module
 */
import { findAttr, type Value } from "../device/attr.ts";
import { nowSeconds } from "../device/device.ts";
import { DeviceError, TimeoutError, UsageError } from "../device/errors.ts";
import type { DeviceManager } from "../lab/manager.ts";
import { sleep } from "../schedule/periodic.ts";
import { parseRef } from "./plan.ts";
import type { ScanDevices } from "./positioners.ts";

/** The detectors of one device, read together; `slots` are their places in a point's values. */
export interface DetectorGroup {
  manager: DeviceManager;
  names: string[];
  slots: number[];
}

/** The detectors grouped by device (one read per device and point); fills units and precision. */
export async function detectorGroups(scan: ScanDevices): Promise<DetectorGroup[]> {
  const { lab, request, units, precision } = scan;
  const groups = new Map<string, DetectorGroup>();
  const detectors = request.detectors;
  for (let k = 0; k < detectors.length; k++) {
    const ref = detectors[k]!;
    const { device, attr: name } = parseRef(ref);
    const manager = lab.get(device);
    const attr = findAttr(await manager.attrs(), name, device);
    if (attr.units) units[ref] = attr.units;
    if (attr.precision !== undefined) precision[ref] = attr.precision;
    let g = groups.get(device);
    if (!g) groups.set(device, g = { manager, names: [], slots: [] });
    if (g.names.includes(name)) throw new UsageError(`detector ${ref} is listed twice`);
    g.names.push(name);
    g.slots.push(k);
  }
  return [...groups.values()];
}

/**
 * Reads every detector once (the devices at the same time) into `values`; returns the time of
 * the first device's reading. A device error is thrown, naming the device and attributes.
 */
export async function readDetectors(
  groups: DetectorGroup[],
  values: Value[],
  signal: AbortSignal,
): Promise<number> {
  if (groups.length === 1) return readGroup(groups[0]!, values, signal);
  if (groups.length === 0) return nowSeconds();
  const ts = await Promise.all(groups.map((g) => readGroup(g, values, signal)));
  return ts[0]!;
}

/** Reads one device's detectors into their slots of `values`; returns the reading's time. */
async function readGroup(g: DetectorGroup, values: Value[], signal: AbortSignal): Promise<number> {
  const r = await g.manager.sample(g.names, { signal, quiet: true });
  if (r.error !== undefined) {
    throw new DeviceError(`reading ${g.manager.name} (${g.names.join(", ")}): ${r.error}`);
  }
  for (let k = 0; k < g.names.length; k++) values[g.slots[k]!] = r.values[g.names[k]!] ?? null;
  return r.t;
}

/**
 * Samples every detector back to back for `ms` into `values`; numbers are averaged, others keep
 * the last. Returns the time the dwell started.
 */
export async function dwellDetectors(
  groups: DetectorGroup[],
  values: Value[],
  ms: number,
  signal: AbortSignal,
): Promise<number> {
  const t = nowSeconds();
  const end = performance.now() + ms;
  const sums = new Array<number>(values.length).fill(0);
  const counts = new Array<number>(values.length).fill(0);
  const once = new Array<Value>(values.length);
  do {
    await readDetectors(groups, once, signal);
    for (let k = 0; k < once.length; k++) {
      const v = once[k]!;
      if (typeof v === "number") {
        sums[k]! += v;
        counts[k]!++;
      }
      values[k] = v;
    }
    if (performance.now() < end) await sleep(Math.min(10, end - performance.now()), signal);
    signal.throwIfAborted();
  } while (performance.now() < end);
  for (let k = 0; k < values.length; k++) if (counts[k]! > 0) values[k] = sums[k]! / counts[k]!;
  return t;
}

/** A detector device's trigger protocol (`trigger`/`trigger_done` in its config), checked. */
export interface DetectorTrigger {
  /** The device. */
  manager: DeviceManager;
  /** The action written true to start a count. */
  attr: string;
  /** The boolean that reads true until the count is done. */
  done: string;
}

/**
 * The trigger protocols of the detector devices that declare one: the trigger must be a
 * writable boolean and the done signal a boolean, checked before anything moves.
 */
export async function detectorTriggers(groups: DetectorGroup[]): Promise<DetectorTrigger[]> {
  const out: DetectorTrigger[] = [];
  for (const g of groups) {
    const t = g.manager.config.trigger;
    if (!t) continue;
    const attrs = await g.manager.attrs();
    const name = g.manager.name;
    const a = findAttr(attrs, t.attr, name);
    if (a.type !== "boolean" || !a.rw) {
      throw new UsageError(
        `${name}: trigger "${t.attr}" is not an action (a writable boolean, like a scaler's count)`,
      );
    }
    if (findAttr(attrs, t.done, name).type !== "boolean") {
      throw new UsageError(`${name}: trigger_done "${t.done}" is not a boolean`);
    }
    out.push({ manager: g.manager, attr: t.attr, done: t.done });
  }
  return out;
}

/**
 * Starts every detector's count at once (writes its trigger true), then waits until each reads
 * done (its done signal false), polling from 1 ms up to `pollMs`; fails after `timeoutMs`.
 */
export async function triggerDetectors(
  triggers: readonly DetectorTrigger[],
  signal: AbortSignal,
  timeoutMs = 60_000,
  pollMs = 10,
): Promise<void> {
  await Promise.all(triggers.map(async (t) => {
    const opts = { signal, quiet: true };
    await t.manager.write(t.attr, true, opts);
    const deadline = performance.now() + timeoutMs;
    let wait = Math.min(1, pollMs);
    while ((await t.manager.read([t.done], opts))[t.done] === true) {
      if (performance.now() > deadline) {
        throw new TimeoutError(
          `${t.manager.name}.${t.done} still reads true ${timeoutMs} ms after ${t.manager.name}.${t.attr} was triggered; check the detector or raise --move-timeout`,
          t.manager.name,
        );
      }
      await sleep(wait, signal);
      signal.throwIfAborted();
      wait = Math.min(wait * 2, pollMs);
    }
  }));
}
