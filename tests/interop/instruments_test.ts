/**
 * Instruments with independent peers: pyvisa-py (Debian python3-pyvisa-py, python3-serial)
 * queries labwire's simulators over `TCPIP::…::SOCKET` and `ASRL/dev/pts/N::INSTR`; lxi-tools
 * (`lxi scpi`) queries a TCP simulator; and labwire's drivers talk to stand-ins written in
 * Python from the manual facts (`fixtures/instrument_standin.py`), not from our simulator, for
 * three instruments (Keysight 34461A, Lake Shore 336, Pfeiffer TPG 362).
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { parseAddress } from "../../lib/device/address.ts";
import { findDriver } from "../../lib/device/registry.ts";
import type { Device } from "../../lib/device/device.ts";
import { findInstrument } from "../../lib/instruments/loader.ts";
import { startPtySimulator, startTcpSimulator } from "../../lib/drivers/message/simulator.ts";
import { debianPython, findProgram, hasPythonModule, peerTest, runTool } from "../peers.ts";
import { runQuery } from "../../cmd/query.ts";
import { MemorySink } from "../../lib/output/stdout.ts";

const STANDIN = new URL("./fixtures/instrument_standin.py", import.meta.url).pathname;
const needsPyvisa = () => [
  ...(hasPythonModule("pyvisa_py") ? [] : ["python3-pyvisa-py"]),
  ...(hasPythonModule("serial") ? [] : ["python3-serial"]),
];
const needsLxi = () => findProgram("lxi") ? [] : ["lxi-tools"];
const needsPython = () => debianPython() ? [] : ["python3"];

/** Runs a pyvisa-py script; `RES` is the resource string, the script prints one line per answer. */
async function pyvisa(resource: string, body: string): Promise<string[]> {
  const script = `
import pyvisa
rm = pyvisa.ResourceManager("@py")
inst = rm.open_resource(${JSON.stringify(resource)})
inst.timeout = 3000
${body}
inst.close()
`;
  const r = await runTool(debianPython()!, ["-c", script], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.err);
  return r.out.trimEnd().split("\n");
}

peerTest(
  "pyvisa-py queries a simulated Keysight 34461A over TCPIP::…::SOCKET",
  needsPyvisa,
  async () => {
    const sim = await startTcpSimulator(await findInstrument("keysight-34461a"), { port: 0 });
    try {
      const out = await pyvisa(
        `TCPIP::127.0.0.1::${sim.port}::SOCKET`,
        `inst.read_termination = "\\n"
inst.write_termination = "\\n"
print(inst.query("*IDN?"))
print(float(inst.query("MEAS:VOLT:DC?")))
inst.write("SENSe:VOLTage:DC:RANGe 100")
print(inst.query("volt:dc:rang?"))
inst.write("NOT:A:COMMAND")
print(inst.query("SYST:ERR?"))
print(inst.query("*OPC?"))`,
      );
      assert.match(out[0]!, /^Keysight Technologies,34461A,/);
      assert.ok(Math.abs(Number(out[1]) - 1.2345678) < 0.001, out[1]);
      assert.equal(out[2], "+1.00000000E+02");
      assert.equal(out[3], '-113,"Undefined header"');
      assert.equal(out[4], "1");
    } finally {
      await sim.close();
    }
  },
);

peerTest(
  "pyvisa-py talks to simulators on a pseudo-terminal (ASRL/dev/pts/N::INSTR)",
  needsPyvisa,
  async () => {
    const ls = await startPtySimulator(await findInstrument("lakeshore-336"));
    const alicat = await startPtySimulator(await findInstrument("alicat"), { units: ["A", "B"] });
    try {
      const out = await pyvisa(
        `ASRL${ls.path}::INSTR`,
        // 7O1 is not asked here: Linux's pty driver forces 8 data bits without parity, and
        // pyserial's tcsetattr of 7O1 on a pty fails with EINVAL.
        `inst.baud_rate = 57600
inst.read_termination = "\\r\\n"
inst.write_termination = "\\r\\n"
print(inst.query("*IDN?"))
inst.write("SETP 1,42.5")
print(inst.query("SETP? 1;*ESR?"))`,
      );
      assert.equal(out[0], "LSCI,MODEL336,LSA1234/1234567,2.9");
      assert.equal(out[1], "+042.500;128", "power-on bit, no error");
      const poll = await pyvisa(
        `ASRL${alicat.path}::INSTR`,
        `inst.baud_rate = 19200
inst.read_termination = "\\r"
inst.write_termination = "\\r"
print(inst.query("BS3.5"))
print(inst.query("A"))`,
      );
      assert.match(
        poll[0]!,
        /^B [+-]\d{3}\.\d\d [+-]\d{3}\.\d\d [+-]\d{4}\.\d [+-]\d{4}\.\d 0003\.5 +N2$/,
      );
      assert.match(poll[1]!, /^A .* 0000\.0 +N2$/);
    } finally {
      await ls.close();
      await alicat.close();
    }
  },
);

peerTest("lxi scpi queries a simulated DMM", needsLxi, async () => {
  const sim = await startTcpSimulator(await findInstrument("keysight-34465a"), { port: 0 });
  try {
    const r = await runTool(findProgram("lxi")!, [
      "scpi",
      "-a",
      "127.0.0.1",
      "-p",
      String(sim.port),
      "-r",
      "*IDN?",
    ], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Keysight Technologies,34465A,MY12345678,/);
  } finally {
    await sim.close();
  }
});

/** Starts the Python stand-in of `kind` and resolves with its port. */
async function startStandin(kind: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command(debianPython()!, {
    args: [STANDIN, kind],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  return {
    port: Number(text.trim()),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
    },
  };
}

async function open(address: string): Promise<Device> {
  const a = parseAddress(address);
  return await findDriver(a.scheme).open(a, { name: "standin", options: {} });
}

peerTest(
  "labwire's drivers against stand-ins written from the manuals (DMM, Lake Shore, TPG)",
  needsPython,
  async () => {
    const dmm = await startStandin("dmm");
    const ls = await startStandin("lakeshore");
    const tpg = await startStandin("tpg");
    try {
      const d = await open(`tcp://127.0.0.1:${dmm.port}?instrument=keysight-34461a`);
      assert.deepEqual(await d.read(), { voltage_dc: 2.50001 });
      await d.write("range", 100);
      assert.deepEqual(await d.read(["range"]), { range: 100 });
      await d.close();

      const l = await open(`tcp://127.0.0.1:${ls.port}?instrument=lakeshore-336`);
      assert.deepEqual(await l.read(["temperature_a", "temperature_b", "heater_1"]), {
        temperature_a: 4.2,
        temperature_b: 300,
        heater_1: 12.5,
      });
      await l.write("setpoint_2", 77.5);
      assert.deepEqual(await l.read(["setpoint_2"]), { setpoint_2: 77.5 });
      await assert.rejects(
        l.read(["celsius_a"]),
        /command error \(ESR 32\)/,
        "the stand-in has no CRDG?",
      );
      await l.close();

      const t = await open(`tcp://127.0.0.1:${tpg.port}?instrument=pfeiffer-tpg36x`);
      assert.deepEqual(await t.read(), {
        pressure_1: 0.0075,
        pressure_2: 0,
        gauge_status_1: "ok",
        gauge_status_2: "no sensor",
      });
      await t.write("units", "torr");
      assert.deepEqual(await t.read(["units"]), { units: "torr" });
      await assert.rejects(t.read(["gauge_type_1"]), /NAK/, "the stand-in has no TID");
      await t.close();
    } finally {
      await dmm.stop();
      await ls.stop();
      await tpg.stop();
    }
  },
);

peerTest(
  "pipelined queries (window 8) to the stand-ins: every answer in order, ;*ESR? checks included",
  needsPython,
  async () => {
    const dmm = await startStandin("dmm");
    const ls = await startStandin("lakeshore");
    try {
      // labwire query --window 8: 30 queries of three kinds, written several to a write.
      const kinds = ["*IDN?", "MEAS:VOLT:DC?", "SYST:ERR?"];
      const commands = Array.from({ length: 30 }, (_, i) => kinds[i % 3]!);
      const out = new MemorySink();
      const code = await runQuery(
        [`tcp://127.0.0.1:${dmm.port}?instrument=keysight-34461a`, "--window", "8", ...commands],
        out,
      );
      assert.equal(code, 0);
      const expected = {
        "*IDN?": "Keysight Technologies,34461A,MY00000001,A.02.14-02.40-02.14-00.49-02-01",
        "MEAS:VOLT:DC?": "+2.50001000E+00",
        "SYST:ERR?": '+0,"No error"',
      } as Record<string, string>;
      assert.deepEqual(out.text.trimEnd().split("\n"), commands.map((c) => expected[c]));

      // A read of several attributes sends their queries together on ?window=4.
      const l = await open(`tcp://127.0.0.1:${ls.port}?instrument=lakeshore-336&window=4`);
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await l.read(["temperature_a", "temperature_b", "heater_1"]), {
          temperature_a: 4.2,
          temperature_b: 300,
          heater_1: 12.5,
        });
      }
      await l.close();
    } finally {
      await dmm.stop();
      await ls.stop();
    }
  },
);
