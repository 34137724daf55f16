/**
 * The simulated wire: when faults are configured, a sim device's answer travels as text with a
 * checksum (`{"pressure":0.75}*1a2b3c4d`), so a garbled answer is caught by the same check a
 * driver makes on a real line, not by the simulator announcing it.
 *
 * @module
 */
import type { Values } from "../../device/attr.ts";
import { DeviceError } from "../../device/errors.ts";
import type { Random } from "./random.ts";

/** FNV-1a over UTF-16 code units, as 8 hex digits. */
function checksum(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * Encodes values as one answer line.
 *
 * @example
 * ```ts
 * import { decodeFrame, encodeFrame } from "./frame.ts";
 * decodeFrame(encodeFrame({ x: 1 }), "sim://bank"); // { x: 1 }
 * ```
 */
export function encodeFrame(values: Values): string {
  const body = JSON.stringify(values);
  return `${body}*${checksum(body)}`;
}

/** Decodes an answer line; anything malformed is a DeviceError "garbage response …". */
export function decodeFrame(text: string, device: string): Values {
  const star = text.lastIndexOf("*");
  const body = star >= 0 ? text.slice(0, star) : text;
  if (star < 0 || text.slice(star + 1) !== checksum(body)) {
    throw garbage(text, device, "checksum mismatch");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw garbage(text, device, "not a values object");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw garbage(text, device, "not a values object");
  }
  return parsed as Values;
}

function garbage(text: string, device: string, why: string): DeviceError {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return new DeviceError(
    `garbage response from ${device}: ${JSON.stringify(shown)} (${why}); check the line or retry`,
    device,
  );
}

/** Corrupts an answer the way noisy lines do: flipped characters, or a truncated line. */
export function garble(text: string, random: Random): string {
  if (text.length < 2 || random.chance(0.3)) return text.slice(0, Math.floor(text.length / 2));
  const chars = [...text];
  const flips = 1 + Math.floor(random.next() * 3);
  for (let k = 0; k < flips; k++) {
    const i = Math.floor(random.next() * chars.length);
    chars[i] = String.fromCharCode(0x21 + ((chars[i]!.charCodeAt(0) + 7 + k) % 94));
  }
  return chars.join("");
}
