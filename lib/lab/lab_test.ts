import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig, parseDeviceTable } from "../config/load.ts";
import { Lab, OPENING_AT_ONCE, OPENING_HOLD_MS } from "./lab.ts";
import { attr } from "../device/attr.ts";
import { registerDriver } from "../device/registry.ts";

Deno.test("Lab.eachDevice: configured and run-time devices wired alike, unwired on removal only", async () => {
  const lab = await Lab.open(parseConfig('[devices.a]\naddress = "sim://gauge"\n'));
  const log: string[] = [];
  const stop = lab.eachDevice((m) => {
    log.push(`wire ${m.name}`);
    return () => log.push(`unwire ${m.name}`);
  });
  try {
    assert.deepEqual(log, ["wire a"], "the device open now, at once");
    await lab.add(parseDeviceTable("b", { address: "sim://gauge?seed=2" }));
    await lab.remove("a");
    assert.deepEqual(log, ["wire a", "wire b", "unwire a"]);
    stop();
    await lab.add(parseDeviceTable("a", { address: "sim://gauge" }));
    assert.deepEqual(log, ["wire a", "wire b", "unwire a"], "stopping is not removing");
  } finally {
    await lab.close();
  }
});

Deno.test("Lab.attrLists asks a few hundred devices at a time; a hung one lets the next start", async () => {
  let asking = 0;
  let most = 0;
  registerDriver({
    scheme: "attrtest",
    summary: "a device whose attributes take 5 ms (the one at host hung: never)",
    example: "attrtest://x",
    descriptors: "none",
    open: (address, ctx) =>
      Promise.resolve({
        name: ctx.name,
        address: address.text,
        driver: "attrtest",
        attrs: async (opts) => {
          asking++;
          most = Math.max(most, asking);
          try {
            const ms = address.text.includes("hung") ? opts?.timeout ?? 0 : 5;
            await new Promise((r) => setTimeout(r, ms));
            if (address.text.includes("hung")) throw new Error("no answer");
            return [attr("x", "number")];
          } finally {
            asking--;
          }
        },
        read: () => Promise.resolve({ x: 0 }),
        write: () => Promise.resolve(),
        techniques: () => [],
        close: () => Promise.resolve(),
      }),
  });
  const n = OPENING_AT_ONCE * 3;
  const bench = (hung: number) =>
    parseConfig(
      Array.from(
        { length: n },
        (_, i) => `[devices.d${i}]\naddress = "attrtest://${i < hung ? "hung" : "ok"}${i}"\n`,
      ).join(""),
    );
  const answering = await Lab.open(bench(0));
  try {
    const lists = await answering.attrLists(300);
    assert.equal(lists.size, n);
    assert.deepEqual(lists.get(`d${n - 1}`)!.map((a) => a.name), ["x"]);
    assert.equal(most, OPENING_AT_ONCE);
  } finally {
    await answering.close();
  }
  most = 0;
  // The first OPENING_AT_ONCE devices never answer: after OPENING_HOLD_MS each lets another start.
  const hanging = await Lab.open(bench(OPENING_AT_ONCE));
  try {
    const lists = await hanging.attrLists(OPENING_HOLD_MS + 300);
    assert.deepEqual(lists.get("d0"), [], "a device that failed has no attributes");
    assert.deepEqual(lists.get(`d${n - 1}`)!.map((a) => a.name), ["x"]);
    assert.ok(most > OPENING_AT_ONCE && most <= 2 * OPENING_AT_ONCE, `${most} asked at once`);
  } finally {
    await hanging.close();
  }
});
