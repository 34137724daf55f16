/**
 * What a scan does around its points: `--set DEV.ATTR=VALUE` settings written before the first
 * move and restored after the last point, and `--baseline` devices read at the start and the end
 * (stored with the scan, Spec/bluesky's baseline stream).
 *
 * @module
 */
import { findAttr, type Value, type Values } from "../device/attr.ts";
import { errorMessage, UsageError } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import { parseRef } from "./plan.ts";

/** One setting as applied: the attribute, the value it had and the value written. */
export interface AppliedSetting {
  /** `device.attr`. */
  ref: string;
  /** Its value before the scan (written back after). */
  previous: Value;
  /** What the scan set it to (as the device read it back). */
  value: Value;
}

/**
 * Writes each setting in order after reading what it was; a setting that fails restores the ones
 * already written and throws (nothing has moved yet).
 */
export async function applySettings(
  lab: Lab,
  settings: Record<string, Value>,
  signal: AbortSignal,
): Promise<AppliedSetting[]> {
  const applied: AppliedSetting[] = [];
  // every attribute is checked before anything is written
  for (const ref of Object.keys(settings)) {
    const { device, attr } = parseRef(ref);
    const a = findAttr(await lab.get(device).attrs(), attr, device);
    if (!a.rw) throw new UsageError(`--set ${ref}: ${ref} is read-only`);
  }
  try {
    for (const [ref, value] of Object.entries(settings)) {
      const { device, attr } = parseRef(ref);
      const m = lab.get(device);
      const previous = (await m.read([attr], { signal, quiet: true }))[attr] ?? null;
      const wrote = await m.write(attr, value, { signal, quiet: true });
      applied.push({ ref, previous, value: wrote });
    }
  } catch (err) {
    await restoreSettings(lab, applied, () => {});
    throw err;
  }
  return applied;
}

/**
 * Writes the previous values back, last setting first; returns false (after warning for each)
 * when one could not be restored.
 */
export async function restoreSettings(
  lab: Lab,
  applied: readonly AppliedSetting[],
  warn: (message: string) => void,
): Promise<boolean> {
  let ok = true;
  for (const s of [...applied].reverse()) {
    const { device, attr } = parseRef(s.ref);
    try {
      if (s.previous === null) throw new Error("its value before the scan was unknown");
      await lab.get(device).write(attr, s.previous, { quiet: true, timeout: 10_000 });
    } catch (err) {
      ok = false;
      warn(`could not restore ${s.ref} to ${JSON.stringify(s.previous)}: ${errorMessage(err)}`);
    }
  }
  return ok;
}

/** One baseline reading of a device (its default reading, or the error). */
export interface BaselineReading {
  /** When, epoch seconds. */
  t: number;
  /** The values. */
  values: Values;
  /** Why the read failed, when it did. */
  error?: string;
}

/** Reads every baseline device at once; a failed read is kept with its error (it does not stop the scan). */
export async function readBaseline(
  lab: Lab,
  devices: readonly string[],
  signal?: AbortSignal,
): Promise<Record<string, BaselineReading>> {
  const readings = await Promise.all(
    devices.map((d) => lab.get(d).sample(undefined, { signal, quiet: true })),
  );
  return Object.fromEntries(
    readings.map((r, i) => [
      devices[i]!,
      { t: r.t, values: r.values, ...(r.error !== undefined ? { error: r.error } : {}) },
    ]),
  );
}

/**
 * Parses `--set DEV.ATTR=VALUE` words: the value stays text (the attribute parses it when it is
 * written, as `labwire write` does).
 *
 * @example
 * ```ts
 * import { parseSettings } from "./settings.ts";
 * parseSettings(["dmm.range=10", "det.count_time=0.1"]); // { "dmm.range": "10", "det.count_time": "0.1" }
 * ```
 */
export function parseSettings(words: readonly string[]): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const w of words) {
    const m = /^([^=\s]+)=(.*)$/s.exec(w);
    if (!m) {
      throw new UsageError(`--set: expected DEV.ATTR=VALUE like dmm.range=10, got "${w}"`);
    }
    parseRef(m[1]!);
    if (m[1]! in out) throw new UsageError(`--set: ${m[1]} is set twice`);
    out[m[1]!] = m[2]!;
  }
  return out;
}
