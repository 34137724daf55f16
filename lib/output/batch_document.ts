/**
 * The document of a batch of readings, spliced from each one's values (`labwire read` of a
 * thousand PVs), apart from `./record.ts`: a read whose targets one batch covers loads this
 * alone, not the per-reading writers, `readingsDocument` and `attrRecord` it never runs (with
 * `--no-lazy` every function of a loaded module is compiled and loaded from the code cache).
 *
 * @module
 */
import type { Values } from "../device/attr.ts";
import { machineTime, type TimeOptions } from "./time.ts";

/** True when a value is named like a record key (`t`, `device`, `error`): not spliced. */
export function namesKey(v: Values): boolean {
  return "t" in v || "device" in v || "error" in v;
}

/** How many pieces a document entry is written as (`./record.ts`'s `entryPieces`). */
export const ENTRY_PIECES = 6;

/** What every entry of time `t` has between its device's JSON and the device's JSON again. */
export function entryHead(t: number, time: TimeOptions | undefined): string {
  return ':{"t":' + JSON.stringify(machineTime(t, time)) + ',"device":';
}

/** The document of `n` entries' pieces, with its newline, joined once. */
export function documentOf(pieces: string[], n: number): string {
  pieces[ENTRY_PIECES * n] = n === 0 ? "{}\n" : "}\n";
  return pieces.join("");
}

/**
 * The text `readingsDocument` (`./record.ts`) gives for readings that share one time `t`, given
 * as each device's name and values, spliced without a reading object made for each; undefined
 * when it cannot be spliced (a name an object orders first or drops, a value named like a record
 * key): then `readingsDocument` of the readings is the document. The names must differ.
 *
 * @example
 * ```ts
 * import { splicedBatchDocument } from "./batch_document.ts";
 * splicedBatchDocument(1, ["a", "b"], [{ p: 2 }, { p: 3 }]);
 * // '{"a":{"t":1,"device":"a","p":2},"b":{"t":1,"device":"b","p":3}}\n'
 * ```
 */
export function splicedBatchDocument(
  t: number,
  names: readonly string[],
  values: readonly Values[],
  time?: TimeOptions,
): string | undefined {
  const n = names.length;
  // The names are checked once, joined (one native scan, no call per entry): whether one is
  // object-keyed (a false alarm on a name holding a newline only takes the other way), and
  // whether any needs escaping, so that each one's JSON is its text in quotes.
  if (OBJECT_KEYED_LINE.test(names.join("\n"))) return undefined;
  const quoted = !NEEDS_ESCAPE.test(names.join(""));
  const head = entryHead(t, time);
  const pieces = new Array<string>(ENTRY_PIECES * n + 1);
  // entryPieces written out for an entry without an error: a call of six arguments an entry.
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    // What readingsDocument takes another way for (see there).
    if (namesKey(v)) return undefined;
    const name = quoted ? '"' + names[i]! + '"' : JSON.stringify(names[i]!);
    const json = JSON.stringify(v);
    const at = ENTRY_PIECES * i;
    pieces[at] = ",";
    pieces[at + 1] = name;
    pieces[at + 2] = head;
    pieces[at + 3] = name;
    pieces[at + 4] = json.length > 2 ? "," : "";
    pieces[at + 5] = json.length > 2 ? json.slice(1) : "}";
  }
  if (n > 0) pieces[0] = "{";
  return documentOf(pieces, n);
}

/** A name an object would order first (a digit first) or drop (`__proto__` whole), one a line. */
const OBJECT_KEYED_LINE = /(?:^|\n)(?:[0-9]|__proto__(?:\n|$))/;

/**
 * A character `JSON.stringify` escapes in a string: a quote, a backslash, a control character
 * or a surrogate (a lone one is escaped; a pair is not, but is taken the long way too).
 */
// deno-lint-ignore no-control-regex -- the control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
