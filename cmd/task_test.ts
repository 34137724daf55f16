import assert from "node:assert/strict";
import { UsageError } from "../lib/device/errors.ts";
import { parseTaskArgs } from "./task.ts";

Deno.test("parseTaskArgs: a mistyped --state names the states and the closest one", () => {
  const ok = parseTaskArgs(["list", "--state", "running"]);
  assert.ok(ok.action === "list" && ok.state === "running");
  assert.throws(
    () => parseTaskArgs(["list", "--state", "runing"]),
    (e) =>
      e instanceof UsageError &&
      /^--state: "runing" is not one of queued, running/.test(e.message) &&
      e.hint === 'did you mean "running"?',
  );
});
