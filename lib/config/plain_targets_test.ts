import assert from "node:assert/strict";
import { registerDriver } from "../device/registry.ts";
import { NO_OPTIONS, plainTargets } from "./plain_targets.ts";
import { resolveTargets } from "./targets.ts";

registerDriver({
  scheme: "ca",
  summary: "test",
  example: "ca://X",
  defaultName: (a) => a.target.trim(),
  open: () => Promise.reject(new Error("not opened in this test")),
});

const EMPTY = { devices: [], sections: {} };

Deno.test("plainTargets gives what resolveTargets gives for plain addresses of one scheme", () => {
  for (const list of [["ca://B:pv1", "ca://B:pv2"], ["ca://B:x", "ca://A:y", "ca://B:x"]]) {
    const plain = plainTargets(list);
    assert.deepEqual(plain, resolveTargets(list, EMPTY));
    assert.ok(plain!.every((d) => d.options === NO_OPTIONS));
  }
  assert.deepEqual(plainTargets(["ca://B:x", "ca://B:x"])?.map((d) => d.name), ["B:x", "B:x#2"]);
});

Deno.test("plainTargets leaves names, options, other schemes and VISA strings to resolveTargets", () => {
  for (
    const other of [
      "gauge",
      "ca://B?timeout=2s",
      "sim://gauge",
      "TCPIP0::10.0.0.5::INSTR",
      "ca://B ",
    ]
  ) {
    assert.equal(plainTargets(["ca://A", other]), undefined, other);
  }
  assert.equal(plainTargets([]), undefined);
});
