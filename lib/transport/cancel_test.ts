import assert from "node:assert/strict";
import { Cancel } from "./cancel.ts";

Deno.test("Cancel: abort calls the hook once with the reason; unhook and later aborts do nothing", () => {
  const c = new Cancel();
  const got: unknown[] = [];
  const hook = (r: unknown) => got.push(r);
  c.hook(hook);
  c.unhook(() => {}); // not the hook: stays
  c.abort("first");
  c.abort("second");
  assert.deepEqual(got, ["first"]);
  assert.equal(c.aborted, true);
  assert.equal(c.reason, "first");

  const d = new Cancel();
  d.hook(hook);
  d.unhook(hook);
  d.abort("x");
  assert.deepEqual(got, ["first"]);
});

Deno.test("Cancel: the signal is made on demand and follows abort, before or after", () => {
  const before = new Cancel();
  const s1 = before.signal;
  assert.equal(s1.aborted, false);
  assert.equal(before.signal, s1);
  before.abort("late");
  assert.equal(s1.aborted, true);
  assert.equal(s1.reason, "late");

  const after = new Cancel();
  after.abort("early");
  assert.equal(after.signal.aborted, true);
  assert.equal(after.signal.reason, "early");
});
