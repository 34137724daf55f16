/**
 * How a PV's DBR data becomes the `ca://` driver's attributes and values: the attribute type
 * from the native DBR type, enum states (writable by name or index), the PV's display, warning,
 * alarm and control limits and element count (`read --describe`, as cainfo and
 * `caget -d DBR_CTRL_DOUBLE` show them), and CHAR waveforms read as text where they hold text
 * (pyepics' `as_string`). Pure functions, no I/O.
 *
 * @example
 * ```ts
 * import { charText } from "./driver_values.ts";
 * charText([104, 105, 0, 0]); // "hi"
 * charText([1, 2, 3]); // undefined (not text)
 * ```
 *
 * @module
 */
import { type Attr, attr, type AttrLimits, type Value } from "../../device/attr.ts";
import type { DbrData } from "./dbr.ts";
import { DBR, MAX_STRING_SIZE, NATIVE_NAMES } from "./dbr_types.ts";

/**
 * How a CHAR waveform is read: `auto` as text when its bytes are text (else numbers), `string`
 * always as text, `bytes` always as numbers. The address option `as_string=1|0` forces one.
 */
export type CharMode = "auto" | "string" | "bytes";

/** What the attribute mapping needs to know of a connected channel. */
export interface ChannelFacts {
  /** Native DBR type 0–6. */
  nativeType: number;
  /** Native element count. */
  nativeCount: number;
  /** Read access granted. */
  readAccess: boolean;
  /** Write access granted. */
  writeAccess: boolean;
  /** `host:port` of the server. */
  server: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The text a CHAR waveform holds, or undefined when its bytes are not text: text is valid UTF-8
 * without control characters (tab, CR and LF allowed) up to the first NUL, and only NULs after
 * it (what `caput -S` and a string record's `$` field leave). No bytes at all is the empty text.
 *
 * @example
 * ```ts
 * import { charText } from "./driver_values.ts";
 * charText([79, 75, 0]); // "OK"
 * ```
 */
export function charText(bytes: readonly number[]): string | undefined {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  for (let i = end; i < bytes.length; i++) if (bytes[i] !== 0) return undefined;
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return undefined;
    if (b === 0x7f) return undefined;
  }
  try {
    return utf8.decode(new Uint8Array(bytes.slice(0, end)));
  } catch {
    return undefined;
  }
}

/** True when the channel's value is read as text under `mode` (`bytes`: its current content). */
export function readsAsText(ch: ChannelFacts, mode: CharMode, bytes?: readonly number[]): boolean {
  if (ch.nativeType !== DBR.CHAR) return false;
  if (mode === "string") return true;
  if (mode === "bytes" || ch.nativeCount <= 1) return false;
  return bytes !== undefined && charText(bytes) !== undefined;
}

/** NaN (EPICS: the limit is not in force) as null, for JSON. */
function bound(v: number | undefined): number | null {
  return v === undefined || Number.isNaN(v) ? null : v;
}

/** The display, warning, alarm and control ranges of DBR_CTRL metadata of a numeric PV. */
export function ctrlLimits(meta: DbrData): AttrLimits | undefined {
  if (meta.upperDispLimit === undefined) return undefined;
  return {
    display: { low: bound(meta.lowerDispLimit), high: bound(meta.upperDispLimit) },
    warning: { low: bound(meta.lowerWarningLimit), high: bound(meta.upperWarningLimit) },
    alarm: { low: bound(meta.lowerAlarmLimit), high: bound(meta.upperAlarmLimit) },
    control: { low: bound(meta.lowerCtrlLimit), high: bound(meta.upperCtrlLimit) },
  };
}

/**
 * The `value` attribute of a PV from its channel and DBR_CTRL metadata (for a CHAR waveform in
 * `auto` mode, `meta.value` decides whether it is text).
 */
export function valueAttr(pv: string, ch: ChannelFacts, meta: DbrData, mode: CharMode): Attr {
  const native = ch.nativeType;
  const array = ch.nativeCount > 1;
  const value = attr("value", "number", {
    rw: ch.writeAccess,
    description: `EPICS PV ${pv}: DBF_${NATIVE_NAMES[native]}${
      array ? `[${ch.nativeCount}]` : ""
    } on ${ch.server}, ${ch.readAccess ? "read" : "no read"}/${
      ch.writeAccess ? "write" : "no write"
    } access`,
  });
  const text = readsAsText(ch, mode, meta.value as number[]);
  if (text) {
    value.type = "string";
    if (mode === "auto") value.description += "; holds text (?as_string=0 reads the bytes)";
  } else if (native === DBR.STRING) value.type = "string";
  else if (array) value.type = "number[]";
  else if (native === DBR.ENUM) {
    value.type = "enum";
    value.options = meta.enumStrings ?? [];
    value.indexed = true;
  } else if (native !== DBR.FLOAT && native !== DBR.DOUBLE) value.type = "integer";
  if (meta.units) value.units = meta.units;
  if (native === DBR.FLOAT || native === DBR.DOUBLE) value.precision = meta.precision;
  const lo = meta.lowerCtrlLimit;
  const hi = meta.upperCtrlLimit;
  // EPICS: DRVL == DRVH (usually both 0) means "no control limits".
  if (lo !== undefined && hi !== undefined && lo < hi && value.type !== "enum" && !text) {
    value.min = lo;
    value.max = hi;
  }
  if (!text) {
    const limits = ctrlLimits(meta);
    if (limits) value.limits = limits;
  }
  value.elements = ch.nativeCount;
  return value;
}

/**
 * The value of one read or monitor update: text for a CHAR waveform read as text, the state
 * name of an enum (its index when the states are not known), numbers otherwise.
 */
export function pvValue(
  ch: ChannelFacts,
  d: DbrData,
  meta: DbrData | undefined,
  mode: CharMode,
): Value {
  const v = d.value;
  if (readsAsText(ch, mode, v as number[])) {
    const bytes = v as number[];
    return charText(bytes) ?? lossyText(bytes);
  }
  if (ch.nativeType === DBR.STRING) return (v[0] as string | undefined) ?? "";
  if (ch.nativeCount > 1) return v as number[];
  const n = v[0] as number | undefined;
  if (n === undefined) return null;
  if (ch.nativeType === DBR.ENUM) return meta?.enumStrings?.[n] ?? String(n);
  return n;
}

/** Bytes forced to text (`as_string=1`) that are not clean text: up to the NUL, bad bytes as U+FFFD. */
function lossyText(bytes: readonly number[]): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(new Uint8Array(end < 0 ? bytes : bytes.slice(0, end)));
}

/**
 * Why `value` does not fit the PV's element count (more elements than a waveform holds, or more
 * text than a CHAR waveform holds with its NUL), or undefined when it fits: checked before
 * sending, so nothing is silently cut off.
 *
 * @example
 * ```ts
 * import { sizeProblem } from "./driver_values.ts";
 * const wave = { nativeType: 6, nativeCount: 4, readAccess: true, writeAccess: true, server: "" };
 * sizeProblem("T:wave", wave, [1, 2, 3, 4, 5]); // "5 elements do not fit T:wave: it holds at most 4"
 * ```
 */
export function sizeProblem(pv: string, ch: ChannelFacts, value: Value): string | undefined {
  if (Array.isArray(value) && value.length > ch.nativeCount) {
    return `${value.length} elements do not fit ${pv}: it holds at most ${ch.nativeCount}`;
  }
  if (typeof value === "string" && ch.nativeType === DBR.STRING) {
    const bytes = new TextEncoder().encode(value).length;
    if (bytes >= MAX_STRING_SIZE) {
      return `${bytes} bytes of text do not fit ${pv}: an EPICS string holds ${
        MAX_STRING_SIZE - 1
      } (longer text needs a CHAR waveform or an lso record)`;
    }
  }
  if (typeof value === "string" && ch.nativeType === DBR.CHAR && ch.nativeCount > 1) {
    const bytes = new TextEncoder().encode(value).length;
    if (bytes >= ch.nativeCount) {
      return `${bytes} bytes of text do not fit ${pv}: it holds ${
        ch.nativeCount - 1
      } and the closing NUL`;
    }
  }
  return undefined;
}
