import assert from "node:assert/strict";
import { issuesError } from "./http_error.ts";

Deno.test("issuesError: a value over its limit is 422 naming the limit; anything else malformed is 400", () => {
  const over = issuesError(
    [{ path: ["plan", "num"], code: "too_big", message: "Too big", maximum: 1_000_000 }],
    "[server] max_scan_points",
  );
  assert.equal(over.status, 422);
  assert.equal(over.code, "limit_exceeded");
  assert.equal(over.message, "plan.num: over the limit of 1,000,000 ([server] max_scan_points)");
  const bad = issuesError([{
    path: ["timeout"],
    code: "invalid_type",
    message: "expected string",
  }]);
  assert.equal(bad.status, 400);
  assert.equal(bad.message, "timeout: expected string");
});

Deno.test("issuesError: an unknown query parameter is named with those the route takes and the closest", () => {
  const issue = (keys: string[]) => ({
    path: [],
    code: "unrecognized_keys",
    message: "Unrecognized key",
    keys,
  });
  const one = issuesError([issue(["atrs"])], undefined, ["attrs", "time", "timeout"]);
  assert.equal(one.status, 400);
  assert.equal(
    one.message,
    'unknown query parameter "atrs"; it takes attrs, time, timeout (did you mean "attrs"?)',
  );
  const two = issuesError([issue(["x", "y"])], undefined, ["time"]);
  assert.equal(two.message, 'unknown query parameters "x", "y"; it takes time');
  // without the route's keys zod's own message stays
  assert.equal(issuesError([issue(["x"])]).message, "request: Unrecognized key");
  // a JSON body's keys: the unknown one first (the missing one is its typo), a missing one required
  const body = issuesError(
    [
      { path: ["address"], code: "invalid_type", message: "expected string, received undefined" },
      issue(["adress"]),
    ],
    undefined,
    undefined,
    ["name", "address", "options"],
  );
  assert.equal(
    body.message,
    'unknown key "adress"; it takes name, address, options (did you mean "address"?); ' +
      "address: required",
  );
});
