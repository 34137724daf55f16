/**
 * The simulated instrument's state machine, message by message: IEEE 488.2 common commands,
 * the SCPI error queue, mnemonics and chaining, state and *RST, the dialects.
 */
import assert from "node:assert/strict";
import { findInstrument, parseDefinition, resolveEntry } from "../../instruments/loader.ts";
import { ACK, ENQ, InstrumentModel, MessageSplitter, NAK } from "./model.ts";
import { textToBytes } from "../sim/ports.ts";

async function model(name: string, unit?: string): Promise<InstrumentModel> {
  return new InstrumentModel(await findInstrument(name), { unit });
}

Deno.test("IEEE 488.2 common commands and the status bytes", async () => {
  const m = await model("keysight-34461a");
  assert.deepEqual(m.handle("*IDN?"), [
    "Keysight Technologies,34461A,MY53220000,A.02.14-02.40-02.14-00.49-02-01",
  ]);
  assert.deepEqual(m.handle("*ESR?"), ["128"], "power on, then cleared by reading");
  assert.deepEqual(m.handle("*ESR?"), ["0"]);
  assert.deepEqual(m.handle("*OPC?"), ["1"]);
  assert.deepEqual(m.handle("*OPC;*ESR?"), ["1"]);
  assert.deepEqual(m.handle("*TST?"), ["0"]);
  assert.deepEqual(m.handle("*STB?"), ["0"]);
  assert.deepEqual(m.handle("NOSUCH:THING"), []);
  assert.deepEqual(m.handle("*STB?"), ["4"], "error queue not empty");
  assert.deepEqual(m.handle("*ESE 32;*ESE?"), ["32"]);
  assert.deepEqual(m.handle("*STB?"), ["36"], "+ event summary (command error enabled)");
  assert.deepEqual(m.handle("*SRE 32;*SRE?;*STB?"), ["32;100"], "+ request service");
  assert.deepEqual(m.handle("*CLS;*STB?"), ["0"]);
  assert.deepEqual(m.handle("*WAI;*TRG"), []);
  assert.deepEqual(m.handle("SYST:ERR?"), ['+0,"No error"']);
});

Deno.test("the error queue: FIFO, -113 for unknown headers, -222 out of range, 20 deep with -350", async () => {
  const m = await model("keysight-34461a");
  m.handle("BOGUS");
  m.handle("VOLT:DC:RANG 7");
  m.handle('FUNC "NOPE"');
  assert.deepEqual(m.handle("SYSTem:ERRor?;:SYST:ERR:NEXT?;:syst:err?;:SYST:ERR?"), [
    '-113,"Undefined header";-222,"Data out of range";-224,"Illegal parameter value";+0,"No error"',
  ]);
  for (let i = 0; i < 25; i++) m.handle("BOGUS");
  assert.equal(m.errors.length, 20);
  assert.equal(m.errors.at(-1), '-350,"Queue overflow"');
  m.handle("*CLS");
  assert.equal(m.errors.length, 0);
});

Deno.test("state: a set changes later gets, long/short forms in any case, ; chaining, *RST", async () => {
  const m = await model("keysight-34461a");
  assert.deepEqual(m.handle("sense:voltage:dc:range 100"), []);
  assert.deepEqual(m.handle("VOLT:DC:RANG?"), ["+1.00000000E+02"]);
  assert.deepEqual(m.handle("VOLT:DC:RANG 1;RANG?;:TRIG:SOUR BUS;SOUR?"), ["+1.00000000E+00;BUS"]);
  assert.equal(m.state("trigger_source"), "bus");
  assert.deepEqual(m.handle("SAMP:COUN 7;COUN?"), ["+7"]);
  m.handle("*RST");
  assert.deepEqual(m.handle("VOLT:DC:RANG?;:SAMP:COUN?;:TRIG:SOUR?"), ["+1.00000000E+01;+1;IMM"]);
  // Measured values carry noise around their state; settings do not.
  const a = Number(m.handle("MEAS:VOLT:DC?")[0]);
  const b = Number(m.handle("MEAS:VOLT:DC?")[0]);
  assert.notEqual(a, b);
  assert.ok(Math.abs(a - 1.2345678) < 0.0001);
});

Deno.test("Lake Shore: ;*ESR? reports the error of the same message", async () => {
  const m = await model("lakeshore-336");
  m.handle("*ESR?");
  assert.deepEqual(m.handle("SETP 1,250;*ESR?"), ["0"]);
  assert.deepEqual(m.handle("SETP? 1;*ESR?"), ["+250.000;0"]);
  assert.deepEqual(m.handle("SETP 1,9999;*ESR?"), ["16"]);
  assert.deepEqual(m.handle("FOO? A;*ESR?"), ["32"]);
  assert.deepEqual(m.handle("RDGST? A"), ["000"]);
});

Deno.test("Alicat: answers only its unit letter, ? for unknown commands, poll lines", async () => {
  const m = await model("alicat", "C");
  assert.deepEqual(m.handle("A"), []);
  const [line] = m.handle("C");
  assert.match(
    line!,
    /^C [+-]\d{3}\.\d\d [+-]\d{3}\.\d\d [+-]\d{4}\.\d [+-]\d{4}\.\d \d{4}\.\d +N2$/,
  );
  assert.match(m.handle("CS2.5")[0]!, / 0002\.5 +N2$/);
  assert.deepEqual(m.handle("CZZ"), ["?"]);
  assert.deepEqual(m.handle("C$$W46=99"), ["?"], "no gas 99");
  assert.match(m.handle("C$$W46=6")[0]!, /^C .* H2$/, "a gas write answers a poll line");
  assert.match(m.handle("C")[0]!, / H2$/);
});

Deno.test("Pfeiffer: ACK then the data on ENQ; NAK for unknown; ENQ repeats the last data", async () => {
  const m = await model("pfeiffer-tpg36x");
  assert.deepEqual(m.handle(ENQ), [], "nothing asked yet");
  assert.deepEqual(m.handle("PR2"), [ACK]);
  assert.match(m.handle(ENQ)[0]!, /^0,\+7\.\d{4}E-03$/);
  assert.match(m.handle(ENQ)[0]!, /^0,\+7\.\d{4}E-03$/);
  assert.deepEqual(m.handle("NOPE"), [NAK]);
  assert.deepEqual(m.handle("UNI,2"), [ACK]);
  assert.deepEqual(m.handle(ENQ), ["2"]);
  assert.deepEqual(m.handle("UNI,9"), [NAK]);
  assert.equal(m.state("units"), "pa");
});

Deno.test("ascii dialect: plain lines, silent on what it does not know", () => {
  const inst = resolveEntry(
    parseDefinition(
      'protocol = "ascii"\n[attrs.level]\nget = "LEVEL?"\nset = "LEVEL={value}"\nsim = { value = 3 }\n',
      "plain.toml",
    ),
    new Map(),
  );
  const m = new InstrumentModel(inst);
  assert.deepEqual(m.handle("LEVEL?"), ["3"]);
  assert.deepEqual(m.handle("LEVEL=5"), []);
  assert.deepEqual(m.handle("level?"), ["5"]);
  assert.deepEqual(m.handle("WHAT"), []);
  assert.deepEqual(m.handle("*IDN?"), ["labwire,plain,SIM00001,1.0"]);
});

Deno.test("MessageSplitter: CR or LF ends a message, a lone ENQ too for Pfeiffer", () => {
  const split = (chunks: string[], pfeiffer: boolean) => {
    const s = new MessageSplitter(pfeiffer);
    const got: string[] = [];
    for (const c of chunks) s.push(textToBytes(c), (m) => got.push(m));
    return { messages: got, rest: s.pending };
  };
  assert.deepEqual(split(["A\rB\r\nC"], false), { messages: ["A", "B"], rest: "C" });
  assert.deepEqual(split(["PR1\r\n\x05"], true), { messages: ["PR1", "\x05"], rest: "" });
  assert.deepEqual(split(["\x05"], false), { messages: [], rest: "\x05" });
  // A message split across reads, bytes above 0x7f kept one character each.
  assert.deepEqual(split(["MEAS:VO", "LT:DC?\n*ID", "N?\xb5\n"], false), {
    messages: ["MEAS:VOLT:DC?", "*IDN?\xb5"],
    rest: "",
  });
});
