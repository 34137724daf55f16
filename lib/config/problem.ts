/**
 * The one formatter of configuration mistakes: a {@linkcode Problem} (key path, what was
 * expected, did-you-mean) and how it is written. The zod schemas of `./schema.ts` and the
 * zod-free option checks of `./options.ts` both end here, so a config file and an address word
 * their mistakes alike. No zod in this module: `labwire read ADDRESS` loads it on start-up.
 *
 * @module
 */
import { didYouMean } from "../device/suggest.ts";

/** A key path as a schema reports it. */
export type KeyPath = readonly PropertyKey[];

/** What an unknown key was, and what its owner takes instead (read back by the formatter). */
export interface UnknownKeyParams {
  /** The key as written. */
  unknownKey: string;
  /** The keys the owner takes. */
  known: string[];
  /** What takes these keys, for the message: `[server]`, `a sim://motor device`. */
  owner: string;
}

/** One problem, ready to print: the key path, what was wrong, and a did-you-mean when there is one. */
export interface Problem {
  /** The full key path, e.g. `devices.gauge.intervall`. */
  key: string;
  /** The key that was wrong (last segment of `key`), when it is a name. */
  name?: string;
  /** What was expected. */
  message: string;
  /** `did you mean "interval"?`, or undefined. */
  hint?: string;
  /** The issue was an unknown key (the key was a typo, not its value). */
  unknown?: UnknownKeyParams;
}

/**
 * Formats a key path the way the config file is written: `devices.gauge.interval`,
 * `alarms[2].compare`, `notify.sinks[0].to[1]`.
 *
 * @example
 * ```ts
 * import { formatKeyPath } from "./problem.ts";
 * formatKeyPath(["notify", "sinks", 0, "type"]); // "notify.sinks[0].type"
 * ```
 */
export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

/**
 * The problem of an unknown key at `path`: what its owner takes, and the closest known key.
 *
 * @example
 * ```ts
 * import { unknownKeyProblem } from "./problem.ts";
 * unknownKeyProblem(["server", "listn"], { unknownKey: "listn", known: ["listen"], owner: "[server]" }).hint;
 * // 'did you mean "listen"?'
 * ```
 */
export function unknownKeyProblem(path: KeyPath, u: UnknownKeyParams): Problem {
  return {
    key: formatKeyPath(path),
    name: u.unknownKey,
    message: `unknown key; ${u.owner} takes: ${u.known.join(", ")}`,
    hint: didYouMean(u.unknownKey, u.known) || undefined,
    unknown: u,
  };
}

/**
 * The text of a problem after its key: what was expected, then the did-you-mean in brackets.
 *
 * @example
 * ```ts
 * import { problemText } from "./problem.ts";
 * problemText({ key: "a", message: "expected true or false" }); // "expected true or false"
 * ```
 */
export function problemText(p: Pick<Problem, "message" | "hint">): string {
  return `${p.message}${p.hint ? ` (${p.hint})` : ""}`;
}
