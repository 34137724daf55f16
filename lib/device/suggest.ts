/**
 * "Did you mean ..." suggestions for mistyped verbs, flags, devices and attributes.
 *
 * The distance is written here rather than taken from `leven`, `fastest-levenshtein` or
 * `didyoumean2`: those count plain Levenshtein edits, where swapping two neighbours costs 2, so
 * `raed` would not be one typo from `read` (issue 13 asks that it is). The packages that do
 * count transpositions bring a whole NLP toolkit (`talisman`) for thirty lines.
 *
 * @module
 */

/**
 * Returns the edit distance between two strings: insert, delete, substitute and swapping two
 * neighbours each cost 1 (optimal string alignment), so `wiat` is one typo from `wait`.
 *
 * @example
 * ```ts
 * import { editDistance } from "./suggest.ts";
 * editDistance("wiat", "wait"); // 1
 * ```
 */
export function editDistance(a: string, b: string): number {
  // Three rows: the one before the previous is needed for transpositions.
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2]! + 1);
      }
      row.push(d);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Returns the candidates to suggest for `word`, best first: those `word` is a prefix of (`sta` of
 * `start` and `status`; at most three, the closest first, since a word that begins several is
 * ambiguous and naming only one would guess), then the closest other one within a typo when it is
 * no further than the best of them (`stat` is also `start` less a letter). Empty when none is close
 * enough to be a typo.
 *
 * @example
 * ```ts
 * import { suggestions } from "./suggest.ts";
 * suggestions("stat", ["start", "list", "status", "stop"]); // ["status", "start"]
 * suggestions("sta", ["start", "list", "status", "stop"]); // ["start", "status"]
 * suggestions("stram", ["read", "stream", "scan"]); // ["stream"]
 * ```
 */
export function suggestions(word: string, candidates: readonly string[]): string[] {
  const allowed = Math.max(1, Math.floor(word.length / 3));
  const lower = word.toLowerCase();
  const folded = candidates.map((c) => c.toLowerCase());
  // The word can come from a request (a device name in a 404's path, kilobytes long): one more
  // than `allowed` longer than every candidate, it is no typo of one (the distance is at least
  // the difference in length) nor a prefix of one, so no distance is worth its length x theirs.
  if (!folded.some((c) => c.length >= lower.length - allowed)) return [];
  const prefixed: { candidate: string; distance: number }[] = [];
  let near: string | undefined;
  let nearDistance = Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const d = editDistance(lower, folded[i]!);
    if (isPrefixOf(word, candidates[i]!)) {
      prefixed.push({ candidate: candidates[i]!, distance: d });
    } else if (d < nearDistance) {
      near = candidates[i];
      nearDistance = d;
    }
  }
  // Stable: of two as close, the one listed first among the candidates comes first.
  prefixed.sort((a, b) => a.distance - b.distance);
  const out = prefixed.slice(0, MAX_PREFIXED).map((p) => p.candidate);
  const prefixDistance = prefixed[0]?.distance ?? Infinity;
  // A typo as close as the nearest prefix is as likely what was meant: both are listed.
  if (near !== undefined && nearDistance <= allowed && nearDistance <= prefixDistance) {
    out.push(near);
  }
  return out;
}

/**
 * Returns the best of {@linkcode suggestions} for `word`, or undefined when none is close enough
 * to be a typo.
 *
 * @example
 * ```ts
 * import { closest } from "./suggest.ts";
 * closest("stram", ["read", "stream", "scan"]); // "stream"
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  return suggestions(word, candidates)[0];
}

/** More words a typo begins than this are not worth listing: the user types one more letter. */
const MAX_PREFIXED = 3;

function isPrefixOf(word: string, candidate: string): boolean {
  return word.length >= 3 && candidate.startsWith(word);
}

/**
 * The hint `did you mean "X"?` (`did you mean "X" or "Y"?`, `"X", "Y" or "Z"` when several are as
 * likely) for `word`, or "" when there is nothing to suggest.
 *
 * @example
 * ```ts
 * import { didYouMean } from "./suggest.ts";
 * didYouMean("stat", ["start", "status"]); // 'did you mean "status" or "start"?'
 * ```
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const list = suggestions(word, candidates);
  if (list.length === 0) return "";
  const quoted = list.map((c) => `"${c}"`);
  const last = quoted.pop()!;
  return `did you mean ${quoted.length === 0 ? last : `${quoted.join(", ")} or ${last}`}?`;
}

/**
 * `rest` after {@linkcode didYouMean}'s suggestion for `word`, one space between them, and no
 * space before `rest` when there is no suggestion (or no word).
 *
 * @example
 * ```ts
 * import { suggestionThen } from "./suggest.ts";
 * suggestionThen("strat", ["start", "list"], "see: --help"); // 'did you mean "start"? see: --help'
 * suggestionThen("zzz", ["start", "list"], "see: --help"); // "see: --help"
 * ```
 */
export function suggestionThen(
  word: string | undefined,
  candidates: readonly string[],
  rest: string,
): string {
  const hint = word === undefined ? "" : didYouMean(word, candidates);
  return hint === "" ? rest : `${hint} ${rest}`;
}
