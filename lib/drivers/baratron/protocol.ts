/**
 * The MKS eBaratron ToolWeb protocol, sans I/O: its vocabulary (the path, the EVIDs of a poll,
 * the decoded values), and the encoders of request bodies, answer bodies and field texts (the
 * inverses are for the simulator; the coded fields are in `fields.ts`). Answers are decoded by
 * `text_decoder.ts` (any well-formed body) and `byte_decoder.ts` (a poll, straight from bytes).
 * Facts: `shared/protocols/mks-ebaratron-toolweb.md`.
 *
 * @module
 */
import { escapeXml } from "./xml.ts";
import { ledMask, statusMask, unitsIndex } from "./fields.ts";

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

/** How each field of a ToolWeb body opens: `<V Name="EVID_`, the EVID's digits follow. */
export const V_OPEN = '<V Name="EVID_';

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
