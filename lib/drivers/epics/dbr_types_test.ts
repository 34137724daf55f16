import assert from "node:assert/strict";
import { epicsToUnix, unixToEpics } from "./dbr_types.ts";

Deno.test("timestamps convert between the EPICS and Unix epochs", () => {
  assert.equal(epicsToUnix(0), 631152000);
  assert.deepEqual(unixToEpics(631152001.5), { secondsPastEpoch: 1, nanoseconds: 500_000_000 });
  assert.equal(epicsToUnix(1, 250_000_000), 631152001.25);
});
