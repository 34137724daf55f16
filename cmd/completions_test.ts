import assert from "node:assert/strict";
import { VERBS } from "../main.ts";
import { editDistance, suggestions } from "../lib/device/suggest.ts";
import { flagsOfHelp, WORDS } from "./completions.ts";
import { SUBCOMMANDS as POSITION } from "./position.ts";
import { SUBCOMMANDS as SESSION } from "./session.ts";
import { ACTIONS as TASK } from "./task.ts";

Deno.test("completion offers each verb's subcommands as the verb has them", () => {
  // The lists are written twice (a completion must not load the verbs' modules at every TAB):
  // session's once lacked note and add. A subcommand added to a verb goes into WORDS too.
  assert.deepEqual(WORDS.session, SESSION);
  assert.deepEqual(WORDS.position, POSITION);
  assert.deepEqual(WORDS.task, [...TASK]);
});

/** What the suggestion was before a typo's prefix candidate came first: the closest, alone. */
function previousPick(word: string, candidates: readonly string[]): string | undefined {
  const allowed = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best !== undefined && word.length >= 3 && best.startsWith(word)) return best;
  return bestDistance <= allowed ? best : undefined;
}

/** A word's typos: its prefixes of three letters or more, each letter left out, each pair swapped. */
function typosOf(word: string): string[] {
  const out = new Set<string>();
  for (let n = 3; n < word.length; n++) out.add(word.slice(0, n));
  for (let i = 0; i < word.length; i++) out.add(word.slice(0, i) + word.slice(i + 1));
  for (let i = 0; i + 1 < word.length; i++) {
    out.add(word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2));
  }
  return [...out];
}

Deno.test("did-you-mean on every verb, subcommand and flag: no typo's suggestion lost, task stat finds status", async () => {
  const lists: [string, string[]][] = [["verbs", VERBS.map((v) => v.name)]];
  for (const [kind, words] of Object.entries(WORDS)) lists.push([kind, words]);
  for (const verb of VERBS) {
    const help = (await verb.load()).help;
    const flags = flagsOfHelp(help).filter((f) => f.startsWith("--")).map((f) => f.slice(2));
    lists.push([`${verb.name} flags`, flags]);
  }
  let meantBefore = 0;
  let meantNow = 0;
  for (const [kind, list] of lists) {
    for (const meant of list) {
      for (const typo of typosOf(meant)) {
        if (list.includes(typo)) continue;
        const now = suggestions(typo, list);
        const before = previousPick(typo, list);
        // What was suggested is still suggested (first, or beside a prefix's candidate).
        if (before !== undefined) assert.ok(now.includes(before), `${kind}: ${typo} → ${now}`);
        if (before === meant) meantBefore++;
        if (now.includes(meant)) meantNow++;
        // A prefix of one word only suggests that word first.
        if (typo.length >= 3 && meant.startsWith(typo)) {
          const others = list.filter((w) => w !== meant && w.startsWith(typo));
          if (others.length === 0) assert.equal(now[0], meant, `${kind}: ${typo}`);
        }
      }
    }
  }
  assert.ok(meantNow > meantBefore, `${meantNow} typos find their word, ${meantBefore} before`);
  assert.deepEqual(suggestions("stat", WORDS.task!), ["status", "start"]);
});
