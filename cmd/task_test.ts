import assert from "node:assert/strict";
import { UsageError } from "../lib/device/errors.ts";
import type { TaskStatus } from "../lib/lab/task_spec.ts";
import { endLine, exitFor, parseTaskArgs } from "./task.ts";

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

Deno.test("a task whose every sample failed ends with exit 1 and says so; some failures keep 0", () => {
  const end = (samples: number, errors: number, state = "completed") =>
    ({
      id: "t1",
      state,
      samples,
      errors,
      last_error: errors ? "no answer within 1 s" : null,
    }) as TaskStatus;
  assert.equal(exitFor(end(3, 3)), 1);
  assert.equal(
    endLine(end(3, 3)),
    "t1 completed after 3 samples, all failed (last error: no answer within 1 s)",
  );
  assert.equal(exitFor(end(3, 1)), 0);
  assert.equal(
    endLine(end(3, 1)),
    "t1 completed after 3 samples, 1 failed (last error: no answer within 1 s)",
  );
  assert.equal(exitFor(end(5, 0)), 0);
  assert.equal(endLine(end(5, 0)), "t1 completed after 5 samples");
  // a move takes no samples: nothing failed
  assert.equal(exitFor(end(0, 0)), 0);
  assert.equal(exitFor(end(2, 0, "failed")), 1);
});

Deno.test("parseTaskArgs: --server names the daemon as --url does (devices' word), not both", () => {
  const a = parseTaskArgs(["list", "--server", "http://127.0.0.1:8601"]);
  assert.equal(a.url, "http://127.0.0.1:8601");
  assert.equal(a.urlFlag, "--server");
  assert.throws(
    () => parseTaskArgs(["list", "--server", "http://a:1", "--url", "http://b:1"]),
    /either as --url or as --server/,
  );
});
