/**
 * The MKS eBaratron ToolWeb protocol, sans I/O: the poll request body, the response parser,
 * the conversions of each polled field and their inverses (for the simulator; the coded fields
 * are in `fields.ts`), and the SetRequest encoder.
 * Facts: `shared/protocols/mks-ebaratron-toolweb.md`.
 *
 * An EVID in an answer that the poll did not ask for is reported as a {@linkcode DeviceError}
 * naming it and its raw value (so a firmware change or a different device is noticed rather
 * than silently dropped); it never crashes the parser.
 *
 * @module
 */
import { DeviceError } from "../../device/errors.ts";
import { escapeXml, parseXml, textOf, type XmlElement, XmlSyntaxError } from "./xml.ts";
import { ledColor, ledMask, statusMask, systemStatus, unitsIndex, unitsName } from "./fields.ts";

/** The path every ToolWeb request is POSTed to. */
export const TOOLWEB_PATH = "/ToolWeb/Cmd";

/** EVIDs of the gauge fields, by field name. */
export const EVID = {
  pressure: 100,
  run_hours: 102,
  pressure_units: 105,
  led_color: 106,
  wait_hours: 107,
  drift: 114,
  system_status: 208,
  full_scale_pressure: 1103,
} as const;

/** The EVIDs of one poll, in the fixed order of the reference client. */
export const POLL_EVIDS: readonly number[] = [100, 102, 105, 106, 107, 114, 208, 1103];

/** Optional EVIDs early clients polled (off by default); known, so never "unexpected". */
export const OPTIONAL_EVIDS: Readonly<Record<number, string>> = {
  101: "analog_pressure",
  103: "digital_pressure_fraction",
  104: "analog_pressure_fraction",
};

/**
 * The decoded fields of one poll (snake_case keys, as readings carry them), in the order the
 * driver declares its attributes, so a decoded poll is a reading's values as it is.
 */
export type GaugeValues = {
  /** Pressure in `pressure_units`. */
  pressure: number;
  /** Units of `pressure` and `full_scale_pressure`, e.g. "torr". */
  pressure_units: string;
  /** Full-scale pressure, same units. */
  full_scale_pressure: number;
  /** LED state, e.g. "green" or "green, blinking"; "unknown" when no known bit is set. */
  led_color: string;
  /** Hours of operation. */
  run_hours: number;
  /** Warm-up hours remaining (0 when warm). */
  wait_hours: number;
  /** Zero drift. */
  drift: number;
  /** Status flags joined with ", ", or "ok". */
  system_status: string;
};

/**
 * Encodes a PollRequest body: no XML declaration, no whitespace, EVIDs in the given order.
 *
 * @example
 * ```ts
 * import { encodePollRequest } from "./protocol.ts";
 * encodePollRequest([100]); // '<PollRequest><V Name="EVID_100"/></PollRequest>'
 * ```
 */
export function encodePollRequest(evids: readonly number[] = POLL_EVIDS): string {
  return `<PollRequest>${evids.map((e) => `<V Name="EVID_${e}"/>`).join("")}</PollRequest>`;
}

/** The exact body the driver POSTs on every poll. */
export const POLL_REQUEST: string = encodePollRequest();

/**
 * Encodes a SetRequest body (seen on other MKS ToolWeb devices; the gauge driver does not write).
 *
 * @example
 * ```ts
 * import { encodeSetRequest } from "./protocol.ts";
 * encodeSetRequest([[71, "1"]]); // '<SetRequest><V Name="EVID_71">1</V></SetRequest>'
 * ```
 */
export function encodeSetRequest(items: readonly (readonly [number, string])[]): string {
  return `<SetRequest>${
    items.map(([e, v]) => `<V Name="EVID_${e}">${escapeXml(v)}</V>`).join("")
  }</SetRequest>`;
}

/**
 * Encodes a PollResponse body from raw EVID texts, in the given order, with the XML
 * declaration the device sends.
 *
 * @example
 * ```ts
 * import { encodePollResponse } from "./protocol.ts";
 * encodePollResponse([[100, "3.78864"]]);
 * ```
 */
export function encodePollResponse(
  items: Iterable<readonly [number, string]>,
  declaration = true,
): string {
  let body = declaration
    ? '<?xml version="1.0" encoding="UTF-8"?><PollResponse>'
    : "<PollResponse>";
  for (const [e, v] of items) body += `<V Name="EVID_${e}">${escapeXml(v)}</V>`;
  return body + "</PollResponse>";
}

/**
 * Encodes a PollResponse body with the XML declaration, one `V` per EVID of `evids` (in that
 * order) whose `text` is defined — what {@linkcode encodePollResponse} writes, without a list
 * of pairs (a simulator answers thousands of polls a second).
 */
export function encodePollAnswer(
  evids: readonly number[],
  text: (evid: number) => string | undefined,
): string {
  let body = '<?xml version="1.0" encoding="UTF-8"?><PollResponse>';
  for (let i = 0; i < evids.length; i++) {
    const e = evids[i]!;
    const v = text(e);
    if (v !== undefined) body += `<V Name="EVID_${e}">${escapeXml(v)}</V>`;
  }
  return body + "</PollResponse>";
}

/** A parsed ToolWeb request (what a simulator receives). */
export interface ToolWebRequest {
  /** Root tag: "PollRequest" or "SetRequest" (others are passed through for the caller to refuse). */
  kind: string;
  /** The `V` children: EVID number and, for SetRequest, the value text. */
  items: { evid: number; value: string }[];
}

/** A parsed answer: raw EVID texts in document order, plus the root tag seen. */
export interface RawResponse {
  /** Root tag; only `PollResponse` has been seen on real devices. */
  root: string;
  /** EVID → raw text. */
  values: Map<number, string>;
}

/**
 * Parses a PollResponse (lenient about the root tag): every direct child `V` with a `Name`
 * attribute. Throws {@linkcode DeviceError} for an empty body, malformed XML, a `V` without a
 * usable `Name`, or an EVID given twice.
 *
 * @example
 * ```ts
 * import { parseResponse } from "./protocol.ts";
 * parseResponse('<PollResponse><V Name="EVID_100">3.7</V></PollResponse>').values.get(100); // "3.7"
 * ```
 */
export function parseResponse(body: string, device?: string): RawResponse {
  const fast = parseCanonical(body, device);
  if (fast) return fast;
  const root = parseBody(body, "answer", device);
  const values = new Map<number, string>();
  for (const { evid, value } of vChildren(root, "answer", device)) {
    if (values.has(evid)) {
      throw new DeviceError(`the gauge answered EVID_${evid} twice`, device);
    }
    values.set(evid, value);
  }
  return { root: root.name, values };
}

const ROOT_NAME = /^[A-Za-z_][\w.-]*$/;
const V_OPEN = '<V Name="EVID_';

/**
 * The common case without building a tree (polling 1,000 gauges twice a second makes garbage
 * matter): what a gauge (and the simulator) sends — an optional declaration, a root, `V`
 * children with plain text, trailing white space — scanned with `indexOf` and `startsWith`,
 * with no match objects. It accepts exactly what
 * `^(?:<\?xml[^?<>]*\?>)?<(NAME)>((?:<V Name="EVID_\d{1,9}">[^<&]*<\/V>)*)<\/\1>\s*$` does;
 * anything else — comments, entities, other attributes — goes to the full parser, which gives
 * the same result for this shape.
 */
function parseCanonical(body: string, device?: string): RawResponse | undefined {
  let i = 0;
  if (body.startsWith("<?xml")) {
    const q = body.indexOf("?>", 5);
    if (q < 0) return undefined;
    for (let k = 5; k < q; k++) {
      const c = body.charCodeAt(k);
      if (c === 63 || c === 60 || c === 62) return undefined; // ? < >
    }
    i = q + 2;
  }
  if (body.charCodeAt(i) !== 60) return undefined;
  const gt = body.indexOf(">", i + 1);
  if (gt < 0) return undefined;
  const root = body.slice(i + 1, gt);
  if (!ROOT_NAME.test(root)) return undefined;
  i = gt + 1;
  const values = new Map<number, string>();
  let twice: number | undefined;
  while (body.startsWith(V_OPEN, i)) {
    let j = i + V_OPEN.length;
    const digits = j;
    let evid = 0;
    for (let c = body.charCodeAt(j); c >= 48 && c <= 57; c = body.charCodeAt(++j)) {
      evid = evid * 10 + c - 48;
    }
    if (j === digits || j - digits > 9 || !body.startsWith('">', j)) return undefined;
    const lt = body.indexOf("<", j + 2);
    if (lt < 0 || !body.startsWith("</V>", lt)) return undefined;
    const text = body.slice(j + 2, lt);
    if (text.includes("&")) return undefined;
    if (values.has(evid)) twice ??= evid;
    else values.set(evid, text.trim());
    i = lt + 4;
  }
  if (
    !body.startsWith("</", i) || !body.startsWith(root, i + 2) ||
    body.charCodeAt(i + 2 + root.length) !== 62
  ) {
    return undefined;
  }
  i += 3 + root.length;
  if (i < body.length && body.slice(i).trim() !== "") return undefined;
  if (twice !== undefined) throw new DeviceError(`the gauge answered EVID_${twice} twice`, device);
  return { root, values };
}

/**
 * Parses a request body (PollRequest or SetRequest) as the device would; throws
 * {@linkcode DeviceError} when it is not one.
 */
export function parseRequest(body: string): ToolWebRequest {
  const root = parseBody(body, "request");
  return { kind: root.name, items: vChildren(root, "request") };
}

function parseBody(body: string, what: string, device?: string): XmlElement {
  if (body.trim() === "") {
    throw new DeviceError(
      `the ${what} body is empty (a ToolWeb ${what} is XML)`,
      device,
    );
  }
  try {
    return parseXml(body);
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) throw err;
    throw new DeviceError(
      `the ${what} is not well-formed XML: ${err.message} (starts ${
        JSON.stringify(snippet(body))
      })`,
      device,
      { cause: err },
    );
  }
}

function vChildren(
  root: XmlElement,
  what: string,
  device?: string,
): { evid: number; value: string }[] {
  const out: { evid: number; value: string }[] = [];
  for (const child of root.children) {
    if (typeof child === "string" || child.name !== "V") continue;
    const name = child.attrs["Name"];
    if (name === undefined) {
      throw new DeviceError(`the ${what} has a <V> without a Name attribute`, device);
    }
    const m = /^EVID_(\d{1,9})$/.exec(name.trim());
    if (!m) {
      throw new DeviceError(`the ${what} has <V Name="${name}">, not an EVID_<number>`, device);
    }
    out.push({ evid: Number(m[1]), value: textOf(child).trim() });
  }
  return out;
}

function snippet(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * Decodes a poll answer into gauge values. `asked` is the list of EVIDs polled: each must be
 * present; any EVID not asked for is an error naming it. Throws {@linkcode DeviceError}.
 *
 * @example
 * ```ts
 * import { decodePoll, parseResponse } from "./protocol.ts";
 * const raw = parseResponse('<PollResponse><V Name="EVID_105">2</V></PollResponse>');
 * decodePoll(raw.values, [105]).pressure_units; // "torr"
 * ```
 */
export function decodePoll(
  raw: ReadonlyMap<number, string>,
  asked: readonly number[] = POLL_EVIDS,
  device?: string,
): Partial<GaugeValues> {
  checkAnswered(raw, asked, device);
  const out: Partial<GaugeValues> = {};
  raw.forEach((text, e) => {
    switch (e) {
      case EVID.pressure:
        out.pressure = num(e, text, device);
        break;
      case EVID.run_hours:
        out.run_hours = num(e, text, device) / 3600;
        break;
      case EVID.pressure_units:
        out.pressure_units = unitsName(int(e, text, device), device);
        break;
      case EVID.led_color:
        out.led_color = ledColor(int(e, text, device));
        break;
      case EVID.wait_hours:
        out.wait_hours = num(e, text, device) / 3600;
        break;
      case EVID.drift:
        out.drift = num(e, text, device);
        break;
      case EVID.system_status:
        out.system_status = systemStatus(int(e, text, device));
        break;
      case EVID.full_scale_pressure:
        out.full_scale_pressure = num(e, text, device);
        break;
        // Optional fields (101, 103, 104) were asked for explicitly; no reading key exists for them.
    }
  });
  return out;
}

/** Every EVID asked for was answered, and nothing else; else a {@linkcode DeviceError}. */
function checkAnswered(
  raw: ReadonlyMap<number, string>,
  asked: readonly number[],
  device?: string,
): void {
  let unexpected: number[] | undefined;
  // forEach, not for…of: no iterator objects on the polling path.
  raw.forEach((_, e) => {
    if (!asked.includes(e)) (unexpected ??= []).push(e);
  });
  if (unexpected) {
    const list = unexpected.map((e) => `EVID_${e}=${JSON.stringify(raw.get(e))}`).join(", ");
    throw new DeviceError(
      `the gauge answered ${list}, which the poll did not ask for` +
        (unexpected.some((e) => !(e in OPTIONAL_EVIDS) && !POLL_EVIDS.includes(e))
          ? " and labwire does not know; is this an MKS eBaratron?"
          : ""),
      device,
    );
  }
  let all = raw.size === asked.length;
  for (let i = 0; all && i < asked.length; i++) all = raw.has(asked[i]!);
  if (!all) {
    const missing = asked.filter((e) => !raw.has(e));
    throw new DeviceError(
      `the gauge's answer lacks ${
        missing.map((e) => `EVID_${e}${fieldOf(e) ? ` (${fieldOf(e)})` : ""}`).join(", ")
      }`,
      device,
    );
  }
}

/**
 * Parses and decodes a full poll answer (all eight fields) in one step.
 *
 * @example
 * ```ts
 * import { decodePollResponse } from "./protocol.ts";
 * // decodePollResponse(body).pressure
 * ```
 */
export function decodePollResponse(body: string, device?: string): GaugeValues {
  const raw = parseResponse(body, device).values;
  checkAnswered(raw, POLL_EVIDS, device);
  // One object literal of a fixed shape: the cheapest object V8 can make, and the reading's
  // values as they are (the driver hands it on without copying).
  const field = (e: number) => raw.get(e)!;
  return {
    pressure: num(EVID.pressure, field(EVID.pressure), device),
    pressure_units: unitsName(
      int(EVID.pressure_units, field(EVID.pressure_units), device),
      device,
    ),
    full_scale_pressure: num(EVID.full_scale_pressure, field(EVID.full_scale_pressure), device),
    led_color: ledColor(int(EVID.led_color, field(EVID.led_color), device)),
    run_hours: num(EVID.run_hours, field(EVID.run_hours), device) / 3600,
    wait_hours: num(EVID.wait_hours, field(EVID.wait_hours), device) / 3600,
    drift: num(EVID.drift, field(EVID.drift), device),
    system_status: systemStatus(int(EVID.system_status, field(EVID.system_status), device)),
  };
}

const utf8 = new TextDecoder();

/**
 * Decodes a poll answer's body straight from the bytes received, bytes [start, end) of `b`:
 * the same values and the same errors as {@linkcode decodePollResponse} of its text, without
 * the text, a map or a string per field for what a gauge sends (see `scanPoll`); anything else
 * goes through the text.
 *
 * @example
 * ```ts
 * import { decodePollBytes, encodePollResponse, POLL_EVIDS } from "./protocol.ts";
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

/** Where each of the eight fields' text lies: [start, end) pairs by poll position; -1 unset. */
const spans = new Int32Array(16);

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
  spans.fill(-1);
  while (bytesAre(b, i, end, V_OPEN_BYTES)) {
    let j = i + V_OPEN_BYTES.length;
    const digits = j;
    let evid = 0;
    for (let c = b[j]!; j < end && c >= 48 && c <= 57; c = b[++j]!) evid = evid * 10 + c - 48;
    if (j === digits || j - digits > 9 || b[j] !== 34 || b[j + 1] !== 62) return undefined;
    let ts = j + 2;
    const lt = b.indexOf(60, ts);
    if (lt < 0 || lt + 4 > end || b[lt + 1] !== 47 || b[lt + 2] !== 86 || b[lt + 3] !== 62) {
      return undefined;
    }
    let te = lt;
    for (let k = ts; k < te; k++) if (b[k]! > 126 || b[k] === 38) return undefined; // non-ASCII, &
    while (ts < te && isSpace(b[ts]!)) ts++;
    while (te > ts && isSpace(b[te - 1]!)) te--;
    const slot = POLL_EVIDS.indexOf(evid);
    if (slot < 0 || spans[2 * slot]! >= 0) return undefined; // not asked for, or twice
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

function fieldOf(evid: number): string | undefined {
  return Object.entries(EVID).find(([, v]) => v === evid)?.[0] ?? OPTIONAL_EVIDS[evid];
}

function num(evid: number, text: string, device?: string): number {
  const n = text === "" ? NaN : Number(text);
  if (!Number.isFinite(n)) {
    throw new DeviceError(
      `EVID_${evid} (${fieldOf(evid)}) is ${JSON.stringify(text)}, not a number`,
      device,
    );
  }
  return n;
}

function int(evid: number, text: string, device?: string): number {
  const n = num(evid, text, device);
  if (!Number.isInteger(n) || n < 0) {
    throw new DeviceError(
      `EVID_${evid} (${fieldOf(evid)}) is ${JSON.stringify(text)}, not a whole number ≥ 0`,
      device,
    );
  }
  return n;
}

/**
 * Encodes gauge values into raw EVID texts (inverse of {@linkcode decodePoll}), for the
 * simulator and round-trip tests. Hours become seconds.
 *
 * @example
 * ```ts
 * import { encodeFields } from "./protocol.ts";
 * encodeFields({ pressure_units: "torr" }).get(105); // "2"
 * ```
 */
export function encodeFields(values: Partial<GaugeValues>): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of POLL_EVIDS) {
    const text = encodeField(e, values);
    if (text !== undefined) out.set(e, text);
  }
  return out;
}

function encodeField(e: number, v: Partial<GaugeValues>): string | undefined {
  switch (e) {
    case EVID.pressure:
      return v.pressure === undefined ? undefined : String(v.pressure);
    case EVID.run_hours:
      return v.run_hours === undefined ? undefined : String(v.run_hours * 3600);
    case EVID.pressure_units: {
      if (v.pressure_units === undefined) return undefined;
      const i = unitsIndex(v.pressure_units);
      if (i === undefined) throw new RangeError(`unknown pressure units "${v.pressure_units}"`);
      return String(i);
    }
    case EVID.led_color:
      return v.led_color === undefined ? undefined : String(ledMask(v.led_color));
    case EVID.wait_hours:
      return v.wait_hours === undefined ? undefined : String(v.wait_hours * 3600);
    case EVID.drift:
      return v.drift === undefined ? undefined : String(v.drift);
    case EVID.system_status:
      return v.system_status === undefined ? undefined : String(statusMask(v.system_status));
    case EVID.full_scale_pressure:
      return v.full_scale_pressure === undefined ? undefined : String(v.full_scale_pressure);
  }
  return undefined;
}
