/**
 * SCPI's command syntax (IEEE 488.2 / SCPI 1999), pure: short forms of headers, splitting a
 * program message at `;` with header continuation, matching commands in long or short form
 * (what the simulator needs), and the standard error strings and ESR bits.
 *
 * @module
 */

/**
 * The SCPI short form of a command: optional `[nodes]` dropped, each header node cut to its
 * upper-case letters (`MEASure:VOLTage:DC?` → `MEAS:VOLT:DC?`); parameters are left alone.
 *
 * @example
 * ```ts
 * import { shortForm } from "./scpi.ts";
 * shortForm("[SENSe:]VOLTage:DC:RANGe 10"); // "VOLT:DC:RANG 10"
 * ```
 */
export function shortForm(command: string): string {
  return command.split(";").map((unit) => {
    const m = /^(\s*)(\S+)(.*)$/s.exec(unit);
    if (!m) return unit;
    const header = m[2]!.replace(/\[[^\]]*\]/g, "").replace(/::+/g, ":");
    const short = header.split(":").map((node) => {
      if (node.startsWith("*") || !/[a-z]/.test(node)) return node;
      const q = node.endsWith("?") ? "?" : "";
      const body = q ? node.slice(0, -1) : node;
      const digits = /\d+$/.exec(body)?.[0] ?? "";
      return body.slice(0, body.length - digits.length).replace(/[a-z]/g, "") + digits + q;
    }).join(":");
    return m[1]! + short + m[3]!;
  }).join(";");
}

/**
 * Splits a program message into its units at `;` (outside quotes), and resolves each unit's
 * header against the previous one: a unit that starts neither with `:` nor `*` continues at the
 * previous header's level (`SOUR:VOLT 1;CURR 2` → `SOUR:CURR 2`).
 *
 * @example
 * ```ts
 * import { splitProgramMessage } from "./scpi.ts";
 * splitProgramMessage("SOUR:VOLT 1;CURR 2;*OPC?"); // ["SOUR:VOLT 1", "SOUR:CURR 2", "*OPC?"]
 * ```
 */
export function splitProgramMessage(message: string): string[] {
  const units: string[] = [];
  let cur = "";
  let quote = "";
  for (const ch of message) {
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === ";") {
      units.push(cur);
      cur = "";
      continue;
    }
    cur += ch;
  }
  units.push(cur);
  const out: string[] = [];
  let path: string[] = [];
  for (const raw of units) {
    const unit = raw.trim();
    if (unit === "") continue;
    const m = /^(\S+)(.*)$/s.exec(unit)!;
    let header = m[1]!;
    if (header.startsWith("*")) {
      out.push(unit);
      continue;
    }
    if (header.startsWith(":")) header = header.slice(1);
    else if (path.length > 0) header = [...path, header].join(":");
    const nodes = header.split(":");
    path = nodes.slice(0, -1);
    out.push(header + m[2]!);
  }
  return out;
}

/**
 * Compiles a command template (channel placeholders already filled) into a matcher for
 * incoming commands. For SCPI the header accepts long and short forms, optional `[nodes]` and
 * any case; parameters compare case-insensitively with flexible spaces. `{value}` captures.
 *
 * @example
 * ```ts
 * import { commandMatcher } from "./scpi.ts";
 * const m = commandMatcher("[SENSe:]VOLTage:DC:RANGe {value}", true);
 * m.exec("volt:dc:range 10")?.[1]; // "10"
 * ```
 */
export function commandMatcher(template: string, scpi: boolean): RegExp {
  const t = template.trim();
  let header = t;
  let params = "";
  if (scpi) {
    const m = /^(\S+)(?:\s+(.*))?$/s.exec(t);
    header = m?.[1] ?? t;
    params = m?.[2] ?? "";
  }
  let re = "^";
  if (scpi && !header.startsWith("*")) {
    re += ":?";
    const parts = header.replace(/^:/, "").split(/(\[[^\]]*\])/).filter((p) => p !== "");
    for (const part of parts) {
      if (part.startsWith("[")) {
        const inner = part.slice(1, -1);
        re += `(?:${nodesPattern(inner)})?`;
      } else re += nodesPattern(part);
    }
    if (params !== "") re += "\\s+" + paramsPattern(params);
  } else re += paramsPattern(header);
  return new RegExp(re + "\\s*$", "is");
}

function nodesPattern(text: string): string {
  return text.split(/(:)/).map((node) => {
    if (node === ":" || node === "") return node;
    if (node.startsWith("{")) return paramsPattern(node);
    const q = node.endsWith("?") ? "\\?" : "";
    const body = q ? node.slice(0, -1) : node;
    if (!/[a-z]/.test(body)) return escapeRe(body) + q;
    const digits = /\d+$/.exec(body)?.[0] ?? "";
    const word = body.slice(0, body.length - digits.length);
    const short = word.replace(/[a-z]/g, "");
    return `(?:${escapeRe(short)}|${escapeRe(word)})${escapeRe(digits)}${q}`;
  }).join("");
}

function paramsPattern(text: string): string {
  return text.split(/(\{[a-z_][a-z0-9_]*\}|,|\s+)/i).map((part) => {
    if (part === "") return "";
    if (part === ",") return "\\s*,\\s*";
    if (/^\s+$/.test(part)) return "\\s+";
    if (/^\{value\}$/i.test(part)) return "(.+?)";
    if (/^\{[a-z_][a-z0-9_]*\}$/i.test(part)) return "(?:.+?)";
    return escapeRe(part);
  }).join("");
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** SCPI error codes and messages the simulator reports (IEEE 488.2 / SCPI 1999). */
export const SCPI_ERRORS = {
  none: '+0,"No error"',
  undefinedHeader: '-113,"Undefined header"',
  dataOutOfRange: '-222,"Data out of range"',
  illegalValue: '-224,"Illegal parameter value"',
  dataType: '-104,"Data type error"',
  systemError: '-310,"System error"',
  queueOverflow: '-350,"Queue overflow"',
  queryInterrupted: '-410,"Query INTERRUPTED"',
} as const;

/** ESR bits (IEEE 488.2). */
export const ESR = {
  opc: 1,
  queryError: 4,
  deviceError: 8,
  executionError: 16,
  commandError: 32,
  powerOn: 128,
} as const;
