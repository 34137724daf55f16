/**
 * The simulator's serving and fault injection over real TCP: answers with the definition's
 * termination, garbage, disconnects that refuse connections for a while, and a device that
 * recovers when its instrument comes back.
 */
import assert from "node:assert/strict";
import "../mod.ts";
import { parseAddress } from "../../device/address.ts";
import { findDriver } from "../../device/registry.ts";
import { findInstrument } from "../../instruments/loader.ts";
import { NO_FAULTS } from "../sim/faults.ts";
import { bytesToText, startTcpSimulator, textToBytes } from "./simulator.ts";

/** Sends `text` and collects what comes back until `until` matches (or the connection ends). */
async function exchange(port: number, text: string, until: RegExp): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(textToBytes(text));
    let got = "";
    const buf = new Uint8Array(4096);
    while (!until.test(got)) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += bytesToText(buf.subarray(0, n));
    }
    return got;
  } finally {
    conn.close();
  }
}

Deno.test("answers end with the definition's read termination; several commands per packet", async () => {
  const sim = await startTcpSimulator(await findInstrument("lakeshore-336"), { port: 0 });
  try {
    const got = await exchange(sim.port, "*IDN?\nSETP 1,20\r\nSETP? 1\n", /\+020\.000\r\n$/);
    assert.equal(got, "LSCI,MODEL336,LSA1234/1234567,2.9\r\n+020.000\r\n");
    assert.equal(sim.sim.counts.ok, 3);
  } finally {
    await sim.close();
  }
});

Deno.test("replies go out in order: many in one write, and behind jittered delays", async () => {
  const inst = await findInstrument("keysight-34461a");
  const idn = `${inst.simIdn}\n`;
  const plain = await startTcpSimulator(inst, { port: 0 });
  try {
    // 200 answers to one packet: more than the output buffer starts with.
    const got = await exchange(plain.port, "*IDN?\n".repeat(200), new RegExp(`(${idn}){200}$`));
    assert.equal(got, idn.repeat(200));
  } finally {
    await plain.close();
  }
  const slow = await startTcpSimulator(inst, {
    port: 0,
    faults: { ...NO_FAULTS, latencyMs: 1, jitterMs: 8 },
  });
  try {
    const cmds = Array.from({ length: 12 }, (_, i) => `*ESE ${i};*ESE?\n`).join("");
    const got = await exchange(slow.port, cmds, /^(\d+\n){12}$/);
    assert.equal(got, Array.from({ length: 12 }, (_, i) => `${i}\n`).join(""));
  } finally {
    await slow.close();
  }
});

Deno.test("garbage fault: a line of junk instead of the answer", async () => {
  const sim = await startTcpSimulator(await findInstrument("keysight-34461a"), {
    port: 0,
    faults: { ...NO_FAULTS, garbageRate: 1 },
  });
  try {
    const got = await exchange(sim.port, "*IDN?\n", /\n$/);
    assert.match(got, /^[!-z]{12}\n$/);
    assert.doesNotMatch(got, /Keysight/);
    assert.equal(sim.sim.counts.garbage, 1);
  } finally {
    await sim.close();
  }
});

Deno.test("disconnect fault: connections dropped and refused for disconnect_for, then served again", async () => {
  const sim = await startTcpSimulator(await findInstrument("keysight-34461a"), {
    port: 0,
    faults: { ...NO_FAULTS, disconnectRate: 1, disconnectForMs: 1500 },
  });
  const a = parseAddress(sim.address);
  const dev = await findDriver("tcp").open(a, { name: "dmm", options: {}, timeout: 500 });
  try {
    await assert.rejects(dev.read(), /closed by the other end|refused|no answer|connection/i);
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: sim.port }),
      Deno.errors.ConnectionRefused,
    );
    sim.sim.faults.options.disconnectRate = 0;
    // The instrument comes back: the same device reads again, without being reopened.
    let value: unknown;
    for (let i = 0; i < 100 && value === undefined; i++) {
      try {
        value = (await dev.read()).voltage_dc;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(typeof value, "number");
    assert.equal(sim.sim.counts.disconnected, 1);
  } finally {
    await dev.close();
    await sim.close();
  }
});
