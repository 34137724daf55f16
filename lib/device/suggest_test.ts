import assert from "node:assert/strict";
import { closest, didYouMean, editDistance, suggestions, suggestionThen } from "./suggest.ts";

Deno.test("editDistance counts a swap of neighbours as one typo", () => {
  assert.equal(editDistance("wiat", "wait"), 1);
  assert.equal(editDistance("intervall", "interval"), 1);
  assert.equal(editDistance("stram", "stream"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("same", "same"), 0);
});

Deno.test("closest suggests only near misses", () => {
  assert.equal(closest("wiat", ["timeout", "wait"]), "wait");
  assert.equal(closest("seedd", ["seed", "strict"]), "seed");
  assert.equal(closest("zzz", ["seed", "strict"]), undefined);
  assert.equal(didYouMean("prefx", ["prefix", "port"]), 'did you mean "prefix"?');
  assert.equal(didYouMean("qqqq", ["prefix", "port"]), "");
});

Deno.test("closest: a word longer than every candidate by more than a typo is none of theirs", () => {
  // at the edge: two or three letters too many are still a typo of the shorter name
  assert.equal(closest("abcdefgh", ["abcdef"]), "abcdef");
  assert.equal(closest("abcdefghi", ["abcdef"]), "abcdef");
  assert.equal(closest("abcdefghij", ["abcdef"]), undefined);
  // a request's kilobytes-long device name against a thousand devices
  const devices = Array.from({ length: 1000 }, (_, i) => `gauge_${i}`);
  assert.equal(closest("g".repeat(60_000), devices), undefined);
  assert.equal(closest("gauge_12x", devices), "gauge_12");
});

Deno.test("suggestionThen: the suggestion and the rest one space apart, the rest alone without one", () => {
  assert.equal(
    suggestionThen("strat", ["start", "list"], "see: x"),
    'did you mean "start"? see: x',
  );
  assert.equal(suggestionThen("zzz", ["start", "list"], "see: x"), "see: x");
  assert.equal(suggestionThen(undefined, ["start", "list"], "see: x"), "see: x");
});

Deno.test("suggestions: the word a typo begins first, a typo as close beside it", () => {
  const task = ["start", "list", "status", "stop", "data"];
  // "stat" begins "status" and is "start" less a letter: both, the one it begins first
  assert.deepEqual(suggestions("stat", task), ["status", "start"]);
  assert.equal(didYouMean("stat", task), 'did you mean "status" or "start"?');
  assert.equal(closest("stat", task), "status");
  // a prefix of one word only: that word, even further than a typo allows
  assert.deepEqual(suggestions("con", ["config", "count", "demo"]), ["config"]);
  // of two words it begins, both, the closest first; a typo further than they are is left out
  assert.deepEqual(suggestions("tim", ["timeout", "time", "team"]), ["time", "timeout"]);
  // "sta" begins "start" and "status" alike: naming one would guess
  assert.deepEqual(suggestions("sta", task), ["start", "status"]);
  assert.equal(didYouMean("sta", task), 'did you mean "start" or "status"?');
  // a word that begins many: the three closest, then the user types one more letter
  const gauges = ["gauge_10", "gauge_1", "gauge_2", "gauge_3"];
  assert.deepEqual(suggestions("gauge_", gauges), ["gauge_1", "gauge_2", "gauge_3"]);
  assert.equal(
    didYouMean("gauge_", gauges),
    'did you mean "gauge_1", "gauge_2" or "gauge_3"?',
  );
  assert.deepEqual(suggestions("tim", ["timeout", "trim"]), ["timeout", "trim"]);
  assert.deepEqual(suggestions("timeo", ["timeout", "time"]), ["timeout", "time"]);
  assert.deepEqual(suggestions("strat", task), ["start"]);
  assert.deepEqual(suggestions("zzz", task), []);
});
