/**
 * The part of an instrument definition its codec reads: command templates with `{name}`
 * placeholders, reply layouts and parse rules, as the loader compiles them. The `message`
 * family's codec (`lib/drivers/message/protocol.ts`) applies them to the wire.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { ParseKind } from "./schema.ts";

/** A reply split into named fields (an instrument-level `[layouts.NAME]`). */
export interface Layout {
  /** Its name, for messages. */
  name: string;
  /** Separator: "," or " " (whitespace runs) or any text. */
  split: string;
  /** Leading tokens to drop (e.g. Alicat's unit letter). */
  skip: number;
  /** Field names by position, when the count never varies. */
  fields?: string[];
  /** Field names by token count (after `skip` and status words are removed). */
  byCount?: Record<number, string[]>;
  /** Words that are status flags wherever they appear (collected into the field `status`). */
  statusWords: string[];
  /**
   * The field holding the first non-numeric token; every token after it is a status word and
   * `byCount` counts only the numbers before it (Alicat's gas, then MOV, LCK, …).
   */
  textField?: string;
  /** The simulator's template for the whole reply: `{FIELD}` placeholders. */
  reply?: string;
}

/** How an answer's text becomes a value. */
export interface ParseRule {
  /** The final conversion. */
  kind: ParseKind;
  /** Applied first: the text of capture group 1 is kept. */
  regex?: RegExp;
  /** A token of the answer: an index (negative from the end), or a field name of `layout`. */
  token?: number | string;
  /** Bits kept of an integer answer before `map` (Alicat's gas register: 0x1FF). */
  mask?: number;
  /** Separator of `token` (default ","; " " means runs of whitespace). */
  split?: string;
  /** Named fields. */
  layout?: Layout;
  /** Wire text → value (enum options, booleans, numbers). */
  map?: Record<string, Value>;
  /** Bit value → flag name, for `flags`. */
  bits?: [number, string][];
  /** Encoding of `block` data. */
  block?: "ascii" | "f32le" | "f32be" | "f64le" | "f64be";
  /** Factor applied to parsed numbers. */
  scale?: number;
}

/**
 * Fills `{name}` placeholders; an unknown placeholder throws (definitions are checked so this
 * only happens for a bug).
 *
 * @example
 * ```ts
 * import { renderTemplate } from "./template.ts";
 * renderTemplate("VOLT {value},(@{output})", { value: "5", output: "1" }); // "VOLT 5,(@1)"
 * ```
 */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-z_][a-z0-9_]*)\}/gi, (_whole, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`template "${template}": no value for {${name}}`);
    return v;
  });
}

/** The placeholder names a template uses. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{([a-z_][a-z0-9_]*)\}/gi)].map((m) => m[1]!);
}
