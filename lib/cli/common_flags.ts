/**
 * The flag tables as data: the declaration of a flag and the flags every verb takes. A module of
 * its own (no imports) so that `main.ts` can read a verb's flags before the verb and the parser
 * load (`./prefetch.ts`).
 *
 * @module
 */

/** The declaration of one flag. */
export interface FlagSpec {
  /** `string` flags take a value; `boolean` flags do not. */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** May be given several times (values collected into an array). */
  multiple?: boolean;
}

/** The flag table of a verb. */
export type FlagSpecs = Record<string, FlagSpec>;

/** Flags every verb accepts. */
export const COMMON_FLAGS: FlagSpecs = {
  help: { type: "boolean", short: "h" },
  config: { type: "string", short: "c" },
  demo: { type: "boolean" },
  json: { type: "boolean" },
  "no-color": { type: "boolean" },
  time: { type: "string" },
  utc: { type: "boolean" },
};
