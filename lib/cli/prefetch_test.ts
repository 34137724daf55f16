import assert from "node:assert/strict";
import { prefetchTargets } from "./prefetch.ts";
import { COMMON_FLAGS } from "./common_flags.ts";
import { READ_FLAGS } from "./read_flags.ts";
import { registerDriver } from "../device/registry.ts";

const FLAGS = { ...COMMON_FLAGS, ...READ_FLAGS };

/** What a driver with a prefetch was asked for, per call, and how many were cancelled. */
function recorder(scheme: string) {
  const calls: string[][] = [];
  let cancelled = 0;
  registerDriver({
    scheme,
    summary: "test",
    example: `${scheme}://x`,
    open: () => Promise.reject(new Error("not opened in this test")),
    readMany: (targets) => Promise.resolve(targets.map(() => ({}))),
    prefetch: (addresses) => {
      calls.push([...addresses]);
      return { sent: Promise.resolve(), cancel: () => void cancelled++ };
    },
  });
  return { calls, cancelled: () => cancelled };
}

Deno.test("prefetch: the plain addresses of a batching driver, flag values skipped", () => {
  const pf = recorder("pfa");
  const started = prefetchTargets(
    [
      "pfa://X:1",
      "-t",
      "pfa://not-a-target",
      "--config=pfa://neither",
      "--compact",
      "gauge",
      "pfa://X:2?timeout=2s",
      "pfa://X%3A3",
      "PFA://X:4",
      "sim://gauge",
      "--",
      "pfa://X:5",
    ],
    FLAGS,
    ["attrs", "describe", "help"],
  );
  assert.equal(started.length, 1);
  assert.deepEqual(pf.calls, [["pfa://X:1", "PFA://X:4", "pfa://X:5"]]);
  started[0]!.cancel();
  assert.equal(pf.cancelled(), 1);
});

Deno.test("prefetch: nothing starts with a flag that changes the read or is not the verb's", () => {
  const pf = recorder("pfb");
  const refuse = ["attrs", "describe", "help"];
  for (
    const args of [
      ["pfb://X", "--attrs", "value"],
      ["pfb://X", "-d"],
      ["pfb://X", "--help"],
      ["pfb://X", "--bogus"],
      ["pfb://X", "-dt", "2s"],
    ]
  ) {
    assert.deepEqual(prefetchTargets(args, FLAGS, refuse), [], args.join(" "));
  }
  assert.deepEqual(pf.calls, []);
});
