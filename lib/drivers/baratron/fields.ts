/**
 * The eBaratron's coded fields, sans I/O: the pressure units table (EVID 105), the LED colour
 * bits (EVID 106) and the system status bits (EVID 208), each decoded to the text a reading
 * shows and encoded back (for the simulator). Facts: `shared/protocols/mks-ebaratron-toolweb.md`.
 *
 * @module
 */
import { DeviceError } from "../../device/errors.ts";

/** Pressure units by EVID 105 index (0–12). */
export const UNITS: readonly string[] = [
  "full-scale ratio",
  "psi",
  "torr",
  "mtorr",
  "cmH2O",
  "inHg",
  "inH2O",
  "bar",
  "mbar",
  "Pa",
  "kPa",
  "atm",
  "g/cm2",
];

/** LED colour bits of EVID 106, in ascending bit order. */
export const LED_BITS: readonly (readonly [number, string])[] = [
  [0, "red"],
  [1, "green"],
  [2, "yellow"],
  [4, "blinking"],
];

/** System status bits of EVID 208, in ascending bit order. */
export const STATUS_BITS: readonly (readonly [number, string])[] = [
  [1, "Signal Error (ADC0)"],
  [2, "Signal Error (ADC1)"],
  [3, "Calibration Checksum1 Failure"],
  [4, "Calibration Checksum2 Failure"],
  [5, "e-Baratron Outside Zeroing Range"],
  [6, "Zero Adjusted"],
  [11, "Diaphragm Shorted"],
  [12, "e-Baratron Over 110% of FS"],
  [16, "Pressure Over Set Limit"],
  [17, "Pressure Under Set Limit"],
  [21, "Illegal Access"],
  [26, "Power Supply Out of Spec"],
  [27, "e-Baratron Zeroing Recommended"],
  [28, "Cumulative Adjustment Over 20%"],
  [29, "Heater Failure"],
];

/**
 * Returns the units name of an EVID 105 index; an index outside 0–12 is a {@linkcode DeviceError}.
 *
 * @example
 * ```ts
 * import { unitsName } from "./fields.ts";
 * unitsName(2); // "torr"
 * ```
 */
export function unitsName(index: number, device?: string): string {
  const u = Number.isInteger(index) ? UNITS[index] : undefined;
  if (u === undefined) {
    throw new DeviceError(
      `the gauge reports pressure units index ${index}, outside the known table 0–${
        UNITS.length - 1
      }; the pressure cannot be interpreted`,
      device,
    );
  }
  return u;
}

/** Returns the EVID 105 index of a units name, or undefined. */
export function unitsIndex(name: string): number | undefined {
  const i = UNITS.indexOf(name);
  return i < 0 ? undefined : i;
}

function hasBit(value: number, bit: number): boolean {
  // Division, not `>>`, so masks above 2^31 stay correct.
  return Math.floor(value / 2 ** bit) % 2 === 1;
}

/**
 * Decodes the LED bitmask: known bits joined with ", " (18 → "green, blinking"), else "unknown".
 *
 * @example
 * ```ts
 * import { ledColor } from "./fields.ts";
 * ledColor(18); // "green, blinking"
 * ```
 */
export function ledColor(mask: number): string {
  return memo(ledCache, mask, () => {
    const names = LED_BITS.filter(([b]) => hasBit(mask, b)).map(([, n]) => n);
    return names.length ? names.join(", ") : "unknown";
  });
}

// A gauge reports the same few masks over and over: decode each once.
const ledCache = new Map<number, string>();
const statusCache = new Map<number, string>();

function memo(cache: Map<number, string>, mask: number, decode: () => string): string {
  let text = cache.get(mask);
  if (text === undefined) {
    text = decode();
    if (cache.size < 1024) cache.set(mask, text);
  }
  return text;
}

/** Encodes an LED description back into its bitmask (inverse of {@linkcode ledColor}). */
export function ledMask(color: string): number {
  return maskOf(color, LED_BITS, "unknown");
}

/**
 * Decodes the system status bitmask: names in ascending bit order joined with ", ", or "ok".
 * Set bits without a known meaning are reported as "unknown bit N" rather than dropped.
 *
 * @example
 * ```ts
 * import { systemStatus } from "./fields.ts";
 * systemStatus(134217728); // "e-Baratron Zeroing Recommended"
 * ```
 */
export function systemStatus(mask: number): string {
  return memo(statusCache, mask, () => {
    const names: string[] = [];
    const known = new Map(STATUS_BITS);
    for (let bit = 0; 2 ** bit <= mask; bit++) {
      if (hasBit(mask, bit)) names.push(known.get(bit) ?? `unknown bit ${bit}`);
    }
    return names.length ? names.join(", ") : "ok";
  });
}

/** Encodes a status description back into its bitmask (inverse of {@linkcode systemStatus}). */
export function statusMask(status: string): number {
  if (status === "ok") return 0;
  let mask = 0;
  // Names contain no ", ", so splitting is unambiguous.
  for (const part of status.split(", ")) {
    const m = /^unknown bit (\d+)$/.exec(part);
    const bit = m ? Number(m[1]) : STATUS_BITS.find(([, n]) => n === part)?.[0];
    if (bit === undefined) throw new RangeError(`unknown system status "${part}"`);
    mask += 2 ** bit;
  }
  return mask;
}

function maskOf(text: string, bits: readonly (readonly [number, string])[], none: string): number {
  if (text === none) return 0;
  let mask = 0;
  for (const part of text.split(", ")) {
    const bit = bits.find(([, n]) => n === part)?.[0];
    if (bit === undefined) throw new RangeError(`unknown flag "${part}"`);
    mask += 2 ** bit;
  }
  return mask;
}
