import assert from "node:assert/strict";
import { CallAbort, onAbort, raceAbortable } from "./client_abort.ts";

Deno.test("CallAbort calls each hook still held once, with the reason readable", () => {
  const a = new CallAbort();
  const calls: string[] = [];
  const offFirst = onAbort(a, () => calls.push(`first ${a.reason}`));
  onAbort(a, () => calls.push(`second ${a.reason}`));
  offFirst();
  a.abort("deadline");
  a.abort("again");
  assert.deepEqual(calls, ["second deadline"]);
  assert.equal(a.aborted, true);
});

Deno.test("raceAbortable answers to a CallAbort and to an AbortSignal alike", async () => {
  const a = new CallAbort();
  const never = new Promise<number>(() => {});
  const raced = raceAbortable(never, a);
  a.abort(new Error("no answer within 5 s"));
  await assert.rejects(raced, /no answer within 5 s/);
  assert.equal(await raceAbortable(Promise.resolve(3), new CallAbort()), 3);
  const c = new AbortController();
  const viaSignal = raceAbortable(never, c.signal);
  c.abort(new Error("stopped"));
  await assert.rejects(viaSignal, /stopped/);
});
