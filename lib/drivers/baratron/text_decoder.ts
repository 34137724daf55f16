/**
 * ToolWeb bodies read as text: the request and answer parsers (a fast path for the canonical
 * shape, the XML parser for anything else) and the decoding of a poll answer into gauge values.
 *
 * An EVID in an answer that the poll did not ask for is reported as a {@linkcode DeviceError}
 * naming it and its raw value (so a firmware change or a different device is noticed rather
 * than silently dropped); it never crashes the parser.
 *
 * @module
 */
import { DeviceError } from "../../device/errors.ts";
import { parseXml, textOf, type XmlElement, XmlSyntaxError } from "./xml.ts";
import { ledColor, systemStatus, unitsName } from "./fields.ts";
import { EVID, type GaugeValues, OPTIONAL_EVIDS, POLL_EVIDS, V_OPEN } from "./protocol.ts";

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
 * import { parseResponse } from "./text_decoder.ts";
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
 * import { decodePoll, parseResponse } from "./text_decoder.ts";
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
 * import { decodePollResponse } from "./text_decoder.ts";
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
