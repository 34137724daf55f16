import assert from "node:assert/strict";
import { closest, didYouMean, editDistance } from "./suggest.ts";

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
