import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { parseFaults } from "./sim/faults.ts";
import { type SimRunOptions, startSimulators } from "./simulators.ts";

const base: SimRunOptions = {
  kind: "keysight-34461a",
  pty: false,
  listenGiven: true,
  hostname: "127.0.0.1",
  port: 0,
  count: 2,
  seed: 1,
  faults: parseFaults({}),
  verbose: false,
};

Deno.test("startSimulators: an instrument's simulators, one address each, what they answered", async () => {
  const sims = await startSimulators(base, () => {});
  assert.equal(sims.addresses.length, 2);
  for (const a of sims.addresses) {
    assert.match(a, /^tcp:\/\/127\.0\.0\.1:\d+\?instrument=keysight-34461a$/);
  }
  assert.match(
    sims.started,
    /^labwire sim: 2 keysight-34461a on 127\.0\.0\.1:\d+…\d+ \(scpi, no faults, seed 1\)/,
  );
  assert.equal(await sims.close(), "labwire sim: stopped; answered 0 messages");
});

Deno.test("startSimulators: a port in use stops those already started and is a usage error", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const lines: string[] = [];
  try {
    // The first simulator gets port-1 (if free), the second finds port taken.
    await assert.rejects(
      startSimulators({ ...base, port: port - 1 }, (l) => lines.push(l)),
      (err: Error) => err instanceof UsageError,
    );
    // A first simulator that did start was closed again, saying what it answered.
    if (lines.length) assert.deepEqual(lines, ["labwire sim: stopped; answered 0 messages"]);
  } finally {
    taken.close();
  }
});

Deno.test("startSimulators: Modbus maps take unit ids, message instruments unit letters", async () => {
  await assert.rejects(
    startSimulators({ ...base, kind: "omega-cn7500", unitLetters: ["A"] }, () => {}),
    /speaks Modbus: give unit ids/,
  );
  await assert.rejects(
    startSimulators({ ...base, kind: "alicat", unitLetters: ["1"] }, () => {}),
    /takes unit letters A–Z/,
  );
});
