/**
 * Modbus against independent peers: labwire reads and writes a pymodbus server (Debian
 * python3-pymodbus, values packed by Python's struct) holding float32 values in both word orders,
 * and mbpoll (libmodbus) reads and writes labwire's simulators over Modbus TCP and over Modbus
 * RTU on a pseudo-terminal. Without the peers the tests skip (fail under LABWIRE_REQUIRE_PEERS=1).
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { parseAddress } from "../../lib/device/address.ts";
import { findDriver } from "../../lib/device/registry.ts";
import type { Device } from "../../lib/device/device.ts";
import { findInstrument } from "../../lib/instruments/loader.ts";
import { openModbusClient } from "../../lib/drivers/modbus/client.ts";
import {
  startModbusPtySimulator,
  startModbusTcpSimulator,
} from "../../lib/drivers/modbus/simulator.ts";
import { debianPython, findProgram, hasPythonModule, peerTest, runTool } from "../peers.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const python = debianPython();
const mbpoll = findProgram("mbpoll");
// The server module, not just the package: Debian's pymodbus server imports serial_asyncio, which
// is only a recommended package (python3-serial-asyncio), so `import pymodbus` alone can pass.
const needPymodbus =
  () => (python && hasPythonModule("pymodbus.server")
    ? []
    : ["python3-pymodbus with python3-serial-asyncio"]);
const needMbpoll = () => (mbpoll ? [] : ["mbpoll"]);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

async function open(address: string, options: Record<string, unknown> = {}): Promise<Device> {
  const a = parseAddress(address);
  return await findDriver(a.scheme).open(a, { name: "peer", options, timeout: 2000 });
}

/** Starts the scripted pymodbus server; resolves once it prints READY. */
async function startPymodbus(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(python!, {
    args: [`${FIXTURES}pymodbus_server.py`, String(port)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 15_000;
  while (!text.includes("READY")) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) throw new Error(`pymodbus server did not start: ${text}`);
    text += value;
  }
  // READY comes before serve_forever() binds the port (defer_start), so wait until it accepts
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`pymodbus server never listened on ${port}: ${e}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      // the stream may already be closed; cancelling is best effort
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

const REGISTERS = {
  abcd: {
    table: "holding",
    address: 0,
    type: "float32",
    word_order: "ABCD",
    write: true,
    status: true,
  },
  cdab: {
    table: "holding",
    address: 10,
    type: "float32",
    word_order: "CDAB",
    write: true,
    status: true,
  },
  words: { table: "holding", address: 20, type: "uint16", write: true, status: true },
};

peerTest(
  "modbus interop: labwire reads and writes a pymodbus server, float32 in both word orders",
  needPymodbus,
  async () => {
    const srv = await startPymodbus();
    const dev = await open(`modbus://127.0.0.1:${srv.port}?unit=1`, { registers: REGISTERS });
    try {
      assert.deepEqual(await dev.read(), { abcd: 1.5, cdab: -2.25, words: 101 });
      await dev.write("abcd", 3.75);
      await dev.write("cdab", -1234.5);
      await dev.write("words", 65535);
      assert.deepEqual(await dev.read(), { abcd: 3.75, cdab: -1234.5, words: 65535 });
      // pymodbus' own client reads what labwire wrote, decoded by Python's struct.
      const read = async (address: number) => {
        const r = await runTool(python!, [
          `${FIXTURES}pymodbus_read.py`,
          String(srv.port),
          String(address),
          "2",
        ]);
        assert.equal(r.code, 0, r.err);
        return JSON.parse(r.out);
      };
      assert.equal((await read(0)).abcd, 3.75);
      assert.equal((await read(10)).cdab, -1234.5);
      assert.deepEqual((await read(20)).registers, [65535, 102]);
    } finally {
      await dev.close();
      await srv.stop();
    }
  },
);

peerTest(
  "modbus interop: pymodbus answers pipelined requests (window 8) each by its transaction id",
  needPymodbus,
  async () => {
    const srv = await startPymodbus();
    const client = openModbusClient(parseAddress(`modbus://127.0.0.1:${srv.port}`), {
      unit: 1,
      window: 8,
      timeout: 3000,
      shared: false,
    });
    try {
      assert.equal(client.line.window, 8);
      // 40 reads at once, of different spans: each answer must be its own request's.
      const spans = Array.from({ length: 40 }, (_, i) => [20 + (i % 3), 1 + (i % 2)] as const);
      const answers = await Promise.all(spans.map(([a, n]) => client.read("holding", a, n)));
      const words = [101, 102, 103, 0];
      answers.forEach((got, i) => {
        const [a, n] = spans[i]!;
        assert.deepEqual(got, words.slice(a - 20, a - 20 + n), `read of ${n} at ${a}`);
      });
      // Writes pipelined with reads land in order of their transactions' arrival.
      await Promise.all([
        client.writeRegisters(21, [7], 6),
        client.read("holding", 0, 2),
        client.read("holding", 10, 2),
      ]);
      assert.deepEqual(await client.read("holding", 20, 3), [101, 7, 103]);
      assert.equal(client.dropped, 0);
    } finally {
      client.close();
      await srv.stop();
    }
  },
);

peerTest(
  "modbus interop: pymodbus answers an unmapped address with exception 02, as labwire says",
  needPymodbus,
  async () => {
    const srv = await startPymodbus();
    const dev = await open(`modbus://127.0.0.1:${srv.port}`, {
      registers: { far: { table: "holding", address: 500 } },
    });
    try {
      await assert.rejects(
        dev.read(),
        /illegal data address at holding register 500 \(read holding registers, exception 02\)/,
      );
    } finally {
      await dev.close();
      await srv.stop();
    }
  },
);

/** Runs mbpoll once (-1) and returns the values it printed, by 1-based reference. */
async function poll(args: string[]): Promise<Record<number, string>> {
  const r = await runTool(mbpoll!, [...args, "-1"], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, `mbpoll ${args.join(" ")}: ${r.out}${r.err}`);
  const out: Record<number, string> = {};
  for (const m of r.out.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) out[Number(m[1])] = m[2]!;
  return out;
}

peerTest(
  "modbus interop: mbpoll reads and writes labwire's simulator over Modbus TCP",
  needMbpoll,
  async () => {
    const sim = await startModbusTcpSimulator(await findInstrument("omega-cn7500"), { port: 0 });
    const watlow = await startModbusTcpSimulator(await findInstrument("watlow-ez-zone-pm"), {
      port: 0,
    });
    const tcp = (port: number) => ["-m", "tcp", "-a", "1", "-p", String(port), "127.0.0.1"];
    try {
      // mbpoll's -r is 1-based: 4097 is PDU address 4096 (process value), 4098 the set value.
      const before = await poll(["-r", "4098", "-c", "1", "-t", "4", ...tcp(sim.port)]);
      assert.equal(before[4098], "250");
      await poll(["-r", "4098", "-t", "4", ...tcp(sim.port), "375"]);
      const dev = await open(sim.address);
      assert.equal((await dev.read(["set_value"])).set_value, 37.5);
      await dev.write("running", false);
      await dev.close();
      assert.equal((await poll(["-r", "2069", "-t", "0", ...tcp(sim.port)]))[2069], "0");
      await poll(["-r", "2069", "-t", "0", ...tcp(sim.port), "1"]);
      assert.equal(sim.sim.models.get(1)!.state("running"), true);
      // An unmapped address: mbpoll reports libmodbus' words for exception 02.
      const bad = await runTool(mbpoll!, ["-r", "4200", "-t", "4", ...tcp(sim.port), "-1"]);
      assert.match(bad.out + bad.err, /Illegal data address/);
      // mbpoll's float is low word first (CDAB), Watlow's order: the set point reads as written.
      const w = await open(watlow.address);
      await w.write("set_point_2", 123.5);
      await w.close();
      const f = await poll([
        "-r",
        String(5000 + 2160 + 1),
        "-c",
        "1",
        "-t",
        "4:float",
        ...tcp(watlow.port),
      ]);
      assert.equal(Number(f[7161]), 123.5);
      await poll(["-r", "2161", "-t", "4:float", ...tcp(watlow.port), "88.25"]);
      const w2 = await open(watlow.address);
      assert.equal((await w2.read(["set_point_1"])).set_point_1, 88.25);
      await w2.close();
    } finally {
      await sim.close();
      await watlow.close();
    }
  },
);

peerTest(
  "modbus interop: mbpoll reads and writes labwire's simulator over Modbus RTU on a pty",
  needMbpoll,
  async () => {
    const sim = await startModbusPtySimulator(await findInstrument("omega-cn7500"), {
      units: [1, 2],
    });
    const rtu = (
      unit: number,
    ) => ["-m", "rtu", "-b", "19200", "-P", "even", "-a", String(unit), sim.path];
    try {
      const pv = await poll(["-r", "4097", "-c", "2", "-t", "4", ...rtu(2)]);
      assert.equal(pv[4098], "250");
      // -12.5 °C is the int16 -125: 65411 as the word mbpoll writes.
      await poll(["-r", "4098", "-t", "4", ...rtu(2), "65411"]);
      assert.equal(sim.sim.models.get(2)!.state("set_value"), -12.5);
      assert.equal(sim.sim.models.get(1)!.state("set_value"), 25);
      const dev = await open(`modbus+rtu://${sim.path}?instrument=omega-cn7500&unit=2`);
      assert.equal((await dev.read(["set_value"])).set_value, -12.5);
      await dev.close();
      assert.equal(sim.sim.counts.bad_frames, 0);
    } finally {
      await sim.close();
    }
  },
);
