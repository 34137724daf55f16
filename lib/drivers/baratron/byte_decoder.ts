/**
 * A poll answer decoded straight from the bytes received: the canonical answer a gauge sends is
 * scanned in place (no text, map or string per field); anything else goes to the text decoder.
 *
 * @module
 */
import { ledColor, systemStatus, unitsName } from "./fields.ts";
import { type GaugeValues, POLL_EVIDS, V_OPEN } from "./protocol.ts";
import { decodePollResponse } from "./text_decoder.ts";

const utf8 = new TextDecoder();

/**
 * Decodes a poll answer's body straight from the bytes received, bytes [start, end) of `b`:
 * the same values and the same errors as {@linkcode decodePollResponse} of its text, without
 * the text, a map or a string per field for what a gauge sends (see `scanPoll`); anything else
 * goes through the text.
 *
 * @example
 * ```ts
 * import { decodePollBytes } from "./byte_decoder.ts";
 * import { encodePollResponse, POLL_EVIDS } from "./protocol.ts";
 * const texts = ["3.5", "36000", "2", "2", "0", "0.001", "0", "10"];
 * const body = new TextEncoder().encode(encodePollResponse(POLL_EVIDS.map((e, i) => [e, texts[i]!])));
 * decodePollBytes(body, 0, body.length).pressure; // 3.5
 * ```
 */
export function decodePollBytes(
  b: Uint8Array,
  start: number,
  end: number,
  device?: string,
): GaugeValues {
  return scanPoll(b, start, end, device) ??
    decodePollResponse(utf8.decode(b.subarray(start, end)), device);
}

/** `<V Name="EVID_` as bytes. */
const V_OPEN_BYTES = Array.from(V_OPEN, (c) => c.charCodeAt(0));

function bytesAre(b: Uint8Array, at: number, end: number, what: readonly number[]): boolean {
  if (at + what.length > end) return false;
  for (let k = 0; k < what.length; k++) if (b[at + k] !== what[k]) return false;
  return true;
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

/** How many fields a poll asks for. */
const POLL_FIELDS = POLL_EVIDS.length;

/** Where each of the eight fields' text lies: [start, end) pairs by poll position; -1 unset. */
const spans = new Int32Array(2 * POLL_FIELDS);

/**
 * The canonical answer (what `parseCanonical` accepts, ASCII field texts, exactly the eight
 * polled EVIDs once each, every text a valid value) decoded from bytes; undefined for anything
 * else, which the text path then decodes or reports as it always did.
 */
function scanPoll(b: Uint8Array, start: number, end: number, device?: string) {
  let i = start;
  if (bytesAre(b, i, end, XML_DECL)) {
    let q = i + 5;
    for (; q + 1 < end && !(b[q] === 63 && b[q + 1] === 62); q++) {
      if (b[q] === 60 || b[q] === 62 || b[q] === 63) return undefined; // < > ?
    }
    if (q + 1 >= end) return undefined;
    i = q + 2;
  }
  if (b[i] !== 60) return undefined;
  const rootStart = i + 1;
  let rootEnd = rootStart;
  for (; rootEnd < end && isNameByte(b[rootEnd]!, rootEnd === rootStart); rootEnd++);
  if (rootEnd === rootStart || b[rootEnd] !== 62) return undefined;
  i = rootEnd + 1;
  // A loop, not `fill` (a call into the runtime's C++, ~260 instructions, for 16 stores).
  for (let k = 0; k < spans.length; k++) spans[k] = -1;
  while (bytesAre(b, i, end, V_OPEN_BYTES)) {
    let j = i + V_OPEN_BYTES.length;
    const digits = j;
    let evid = 0;
    for (let c = b[j]!; j < end && c >= 48 && c <= 57; c = b[++j]!) evid = evid * 10 + c - 48;
    if (j === digits || j - digits > 9 || b[j] !== 34 || b[j + 1] !== 62) return undefined;
    let ts = j + 2;
    // The field's text runs to the next `<`: ASCII without `&` (one loop, not `indexOf`, a call
    // into the runtime's C++ per field, and a second pass over the text).
    let lt = ts;
    for (; lt < end; lt++) {
      const c = b[lt]!;
      if (c === 60) break;
      if (c > 126 || c === 38) return undefined; // non-ASCII, &
    }
    if (lt + 4 > end || b[lt + 1] !== 47 || b[lt + 2] !== 86 || b[lt + 3] !== 62) {
      return undefined;
    }
    let te = lt;
    while (ts < te && isSpace(b[ts]!)) ts++;
    while (te > ts && isSpace(b[te - 1]!)) te--;
    // A loop over the eight, not `indexOf` (a builtin call per field).
    let slot = 0;
    while (slot < POLL_FIELDS && POLL_EVIDS[slot] !== evid) slot++;
    if (slot === POLL_FIELDS || spans[2 * slot]! >= 0) return undefined; // not asked for, or twice
    spans[2 * slot] = ts;
    spans[2 * slot + 1] = te;
    i = lt + 4;
  }
  if (b[i] !== 60 || b[i + 1] !== 47) return undefined;
  const rootLength = rootEnd - rootStart;
  for (let k = 0; k < rootLength; k++) if (b[i + 2 + k] !== b[rootStart + k]) return undefined;
  i += 2 + rootLength;
  if (b[i] !== 62) return undefined;
  for (i++; i < end; i++) if (!isSpace(b[i]!)) return undefined;
  for (let k = 0; k < spans.length; k++) if (spans[k]! < 0) return undefined;
  // POLL_EVIDS order: 100, 102, 105, 106, 107, 114, 208, 1103.
  const pressure = numberAt(b, 0);
  const runS = numberAt(b, 1);
  const units = wholeAt(b, 2);
  const led = wholeAt(b, 3);
  const waitS = numberAt(b, 4);
  const drift = numberAt(b, 5);
  const status = wholeAt(b, 6);
  const fullScale = numberAt(b, 7);
  if (
    pressure === undefined || runS === undefined || units === undefined || led === undefined ||
    waitS === undefined || drift === undefined || status === undefined || fullScale === undefined
  ) return undefined;
  return {
    pressure,
    pressure_units: unitsName(units, device),
    full_scale_pressure: fullScale,
    led_color: ledColor(led),
    run_hours: runS / 3600,
    wait_hours: waitS / 3600,
    drift,
    system_status: systemStatus(status),
  };
}

const XML_DECL = Array.from("<?xml", (c) => c.charCodeAt(0));

function isNameByte(c: number, first: boolean): boolean {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  return first ? letter : letter || (c >= 48 && c <= 57) || c === 46 || c === 45;
}

/**
 * The finite number of field `slot`'s text, as `Number(text)` gives it; undefined when it is
 * not one. Plain decimals of up to 15 digits are computed from the digits (an integer of at
 * most 15 digits and a power of ten up to 10^22 are exact, so their quotient is the correctly
 * rounded value `Number` returns); other forms go through `Number`.
 */
function numberAt(b: Uint8Array, slot: number): number | undefined {
  const s = spans[2 * slot]!, e = spans[2 * slot + 1]!;
  let i = s;
  const negative = b[i] === 45;
  if (negative) i++;
  let mantissa = 0;
  let digits = 0;
  let decimals = -1;
  for (; i < e; i++) {
    const c = b[i]!;
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + c - 48;
      digits++;
      if (decimals >= 0) decimals++;
    } else if (c === 46 && decimals < 0) decimals = 0;
    else break;
  }
  if (i === e && digits > 0 && digits <= 15 && decimals !== 0) {
    const v = decimals > 0 ? mantissa / POWERS[decimals]! : mantissa;
    return negative ? -v : v;
  }
  const n = s === e ? NaN : Number(utf8.decode(b.subarray(s, e)));
  return Number.isFinite(n) ? n : undefined;
}

/** Exact powers of ten (10^0 … 10^15 suffice for 15 digits). */
const POWERS = Array.from({ length: 16 }, (_, k) => 10 ** k);

/** The whole number ≥ 0 of field `slot`'s text (as `int` accepts it), else undefined. */
function wholeAt(b: Uint8Array, slot: number): number | undefined {
  const n = numberAt(b, slot);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}
