import assert from "node:assert/strict";
import { fdBudget, raiseFdLimit, readFdLimit, RESERVED_FDS } from "./fd_limit.ts";

Deno.test("the descriptor limit is read, raised to the hard limit, and turned into a device count", () => {
  const before = readFdLimit();
  assert.ok(before, "RLIMIT_NOFILE readable on Linux");
  assert.ok(before.soft <= before.hard);
  const after = raiseFdLimit()!;
  assert.equal(after.soft, after.hard, "soft raised to hard");
  const proc = /^Max open files\s+(\d+|unlimited)/m.exec(
    Deno.readTextFileSync("/proc/self/limits"),
  );
  assert.equal(String(after.soft === Infinity ? "unlimited" : after.soft), proc![1]);
  if (after.soft === Infinity) return;
  const fits = Math.floor((after.soft - RESERVED_FDS) / 2);
  assert.deepEqual(fdBudget(fits, 2), { limit: after, devices: fits, enough: true });
  assert.equal(fdBudget(100, 2), undefined, "a few hundred descriptors are not even looked up");
  assert.equal(fdBudget(fits + 1, 2)!.enough, false);
});
