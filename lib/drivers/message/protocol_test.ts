import assert from "node:assert/strict";
import { commandMatcher, shortForm, splitProgramMessage } from "./scpi.ts";
import {
  decodeBlock,
  decodeBlockData,
  decodeBlockValues,
  encodeBlock,
  encodeBlockValues,
  formatValue,
  layoutFields,
  parseAnswer,
  ParseError,
  printf,
  unquote,
} from "./protocol.ts";
import { type Layout, placeholders, renderTemplate } from "../../instruments/template.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("renderTemplate fills placeholders and refuses unknown ones", () => {
  assert.equal(
    renderTemplate("VOLT {value},(@{output})", { value: "5", output: "1" }),
    "VOLT 5,(@1)",
  );
  assert.equal(renderTemplate("{unit}S{value}", { unit: "B", value: "1.5" }), "BS1.5");
  assert.throws(() => renderTemplate("X {nope}", {}), /no value for \{nope\}/);
  assert.deepEqual(placeholders("SETP {output},{value}"), ["output", "value"]);
});

Deno.test("shortForm: long mnemonics cut to upper case, optional nodes dropped, params kept", () => {
  assert.equal(shortForm("MEASure:VOLTage:DC?"), "MEAS:VOLT:DC?");
  assert.equal(shortForm("[SENSe:]VOLTage:DC:RANGe 10"), "VOLT:DC:RANG 10");
  assert.equal(shortForm("SENSe:VOLTage[:DC]:NPLCycles?"), "SENS:VOLT:NPLC?");
  assert.equal(shortForm("OUTPut1:STATe ON"), "OUTP1:STAT ON");
  assert.equal(shortForm('FUNCtion "VOLT:AC"'), 'FUNC "VOLT:AC"');
  assert.equal(shortForm("KRDG? A;*ESR?"), "KRDG? A;*ESR?");
  assert.equal(shortForm(":APPLy? CH1"), ":APPL? CH1");
});

Deno.test("printf: the conversions definitions use", () => {
  assert.equal(printf("%+.8E", 1.5), "+1.50000000E+00");
  assert.equal(printf("%+.8E", -0.00123), "-1.23000000E-03");
  assert.equal(printf("%+.8E", 1e37 * 9.9), "+9.90000000E+37");
  assert.equal(printf("%+07.2f", 14.742), "+014.74");
  assert.equal(printf("%+08.3f", 77.35), "+077.350");
  assert.equal(printf("%08.3f", -1.5), "-001.500");
  assert.equal(printf("%d", 3.6), "4");
  assert.equal(printf("%+d", 5), "+5");
  assert.equal(printf("%03d", 7), "007");
  assert.equal(printf("%.4e", 0.0075), "7.5000e-03");
  assert.equal(printf("%g", 0.1 + 0.2), "0.3");
  assert.equal(printf("%-6s|", "N2"), "N2    |");
  assert.equal(printf("%5s", "N2"), "   N2");
  assert.equal(printf("value=%.1f V", 2.25), "value=2.3 V");
  assert.equal(printf("no conversion", 1), "no conversion");
  assert.equal(printf("%.2e", 1.5e-300), "1.50e-300");
  // Not finite: C's inf and nan, not "InfinityE+NaN".
  assert.equal(printf("%+.8E", -Infinity), "-INF");
  assert.equal(printf("%e", NaN), "nan");
  // The same format again (parsed once) with another value.
  assert.equal(printf("%+.8E", 2), "+2.00000000E+00");
});

Deno.test("formatValue: map first, then format, booleans as 1/0", () => {
  assert.equal(formatValue(true, {}), "1");
  assert.equal(formatValue(false, { map: { ON: true, OFF: false } }), "OFF");
  assert.equal(formatValue("high", { map: { "0": "off", "3": "high" } }), "3");
  assert.equal(formatValue(2.5, { format: "%.3f" }), "2.500");
  assert.equal(formatValue(2.5, {}), "2.5");
  assert.equal(formatValue(250, { scale: 1000 }), "0.25");
  assert.equal(formatValue([1, 2], {}), "1,2");
  assert.equal(formatValue("text", {}), "text");
});

Deno.test("parseAnswer: number, integer, boolean, string, enum, flags, numbers", () => {
  assert.equal(parseAnswer("+1.23450000E+00", { kind: "number" }), 1.2345);
  assert.equal(parseAnswer(" 42 ", { kind: "integer" }), 42);
  assert.equal(parseAnswer("7", { kind: "number", scale: 0.5 }), 3.5);
  assert.throws(() => parseAnswer("4.5", { kind: "integer" }), ParseError);
  assert.throws(() => parseAnswer("abc", { kind: "number" }), /expected a number, got "abc"/);
  assert.throws(() => parseAnswer("", { kind: "number" }), ParseError);
  assert.equal(parseAnswer("ON", { kind: "boolean" }), true);
  assert.equal(parseAnswer("0", { kind: "boolean" }), false);
  assert.throws(() => parseAnswer("maybe", { kind: "boolean" }), /ON\/OFF/);
  assert.equal(parseAnswer('"VOLT"', { kind: "string" }), "VOLT");
  assert.equal(parseAnswer('"VOLT"', { kind: "enum", map: { VOLT: "voltage_dc" } }), "voltage_dc");
  assert.equal(parseAnswer("imm", { kind: "enum", map: { IMM: "immediate" } }), "immediate");
  assert.throws(
    () => parseAnswer("9", { kind: "enum", map: { "0": "off" } }),
    /unexpected answer "9"/,
  );
  assert.equal(parseAnswer("3", { kind: "enum", map: { "0": "off", "3": "high" } }), "high");
  const bits: [number, string][] = [[1, "invalid"], [16, "under"], [32, "over"]];
  assert.equal(parseAnswer("0", { kind: "flags", bits }), "ok");
  assert.equal(parseAnswer("017", { kind: "flags", bits }), "invalid, under");
  assert.throws(() => parseAnswer("x", { kind: "flags", bits }), ParseError);
  assert.deepEqual(parseAnswer("1.5,2,-3e-1", { kind: "numbers" }), [1.5, 2, -0.3]);
  assert.throws(() => parseAnswer("1,x", { kind: "numbers" }), /expected numbers/);
});

Deno.test("parseAnswer: regex capture, token by index, layout field by name", () => {
  assert.equal(parseAnswer("A 122 = 37", { kind: "integer", regex: /=\s*(\d+)\s*$/ }), 37);
  assert.throws(
    () => parseAnswer("garbage", { kind: "integer", regex: /=\s*(\d+)/ }),
    /does not match/,
  );
  assert.equal(parseAnswer("CH1,5.000,1.0000", { kind: "number", token: 1 }), 5);
  assert.equal(parseAnswer("0,+7.5000E-03", { kind: "number", token: 1 }), 0.0075);
  assert.equal(parseAnswer("a  b   c", { kind: "string", token: 2, split: " " }), "c");
  assert.throws(() => parseAnswer("1,2", { kind: "number", token: 5 }), /at least 6 fields, got 2/);
  const poll: Layout = {
    name: "poll",
    split: " ",
    skip: 1,
    byCount: {
      5: ["pressure", "temperature", "volumetric_flow", "mass_flow", "gas"],
      6: ["pressure", "temperature", "volumetric_flow", "mass_flow", "setpoint", "gas"],
    },
    statusWords: ["MOV", "VOV", "LCK"],
  };
  const line = "B +014.74 +024.46 +0000.2 -0000.1 0000.0      N2";
  assert.equal(parseAnswer(line, { kind: "number", layout: poll, token: "mass_flow" }), -0.1);
  assert.equal(parseAnswer(line, { kind: "string", layout: poll, token: "gas" }), "N2");
  // Status words after the gas never shift the fields.
  const flagged = "A +014.74 +024.46 +0000.2 +0005.0 0005.0 N2 MOV LCK";
  assert.deepEqual(layoutFields(flagged, poll), {
    pressure: "+014.74",
    temperature: "+024.46",
    volumetric_flow: "+0000.2",
    mass_flow: "+0005.0",
    setpoint: "0005.0",
    gas: "N2",
    status: "MOV LCK",
  });
  const meter = "A +014.74 +024.46 +0000.2 +0005.0 Ar";
  assert.equal(parseAnswer(meter, { kind: "string", layout: poll, token: "gas" }), "Ar");
  assert.throws(
    () => parseAnswer(meter, { kind: "number", layout: poll, token: "setpoint" }),
    /no field "setpoint"/,
  );
  assert.throws(() => layoutFields("A 1 2", poll), /expected 5, 6 fields/);
});

Deno.test("definite-length blocks: encode, decode, incomplete, malformed, values", () => {
  assert.equal(new TextDecoder().decode(encodeBlock(enc("hello"))), "#15hello");
  const b = decodeBlock(enc("#15hello\n"))!;
  assert.equal(new TextDecoder().decode(b.data), "hello");
  assert.equal(b.size, 8);
  assert.equal(decodeBlock(enc("#15hel")), undefined);
  assert.equal(decodeBlock(enc("#2")), undefined);
  assert.throws(() => decodeBlock(enc("x15hello")), /must start with #/);
  assert.throws(() => decodeBlock(enc("#x5hello")), /bad length digit/);
  assert.deepEqual(decodeBlockValues(enc("#211+1.0,-2.5e0"), "ascii"), [1, -2.5]);
  for (const e of ["f32le", "f32be", "f64le", "f64be"] as const) {
    assert.deepEqual(decodeBlockValues(encodeBlockValues([1.5, -2, 0.25], e), e), [1.5, -2, 0.25]);
  }
  assert.deepEqual(decodeBlockValues(encodeBlockValues([1.5, -2], "ascii"), "ascii"), [1.5, -2]);
  assert.deepEqual(
    parseAnswer(encodeBlockValues([3, 4], "f32le"), { kind: "block", block: "f32le" }),
    [3, 4],
  );
  assert.throws(() => decodeBlockValues(enc("#13abc"), "f32le"), /not a whole number/);
});

Deno.test("splitProgramMessage: ; chaining keeps the header path, * and : reset it", () => {
  assert.deepEqual(splitProgramMessage("SOUR:VOLT 1;CURR 2;*OPC?"), [
    "SOUR:VOLT 1",
    "SOUR:CURR 2",
    "*OPC?",
  ]);
  assert.deepEqual(splitProgramMessage("VOLT:DC:RANG 100;RANG?"), [
    "VOLT:DC:RANG 100",
    "VOLT:DC:RANG?",
  ]);
  assert.deepEqual(splitProgramMessage("SOUR:VOLT 1;:MEAS:CURR?"), ["SOUR:VOLT 1", "MEAS:CURR?"]);
  assert.deepEqual(splitProgramMessage('DISP:TEXT "a;b";*CLS'), ['DISP:TEXT "a;b"', "*CLS"]);
  assert.deepEqual(splitProgramMessage("KRDG? A;*ESR?"), ["KRDG? A", "*ESR?"]);
  assert.deepEqual(splitProgramMessage(" ; "), []);
  assert.equal(unquote("'x'"), "x");
});

Deno.test("commandMatcher: long/short forms, any case, optional nodes, flexible params", () => {
  const range = commandMatcher("[SENSe:]VOLTage:DC:RANGe {value}", true);
  for (
    const c of [
      "VOLT:DC:RANG 10",
      "volt:dc:range 10",
      "SENS:VOLT:DC:RANG 10",
      ":sense:voltage:DC:RANGE   10",
    ]
  ) {
    assert.equal(range.exec(c)?.[1], "10", c);
  }
  for (const c of ["VOLTA:DC:RANG 10", "VOL:DC:RANG 10", "VOLT:DC:RANG", "VOLT:DC:RANG? 10"]) {
    assert.equal(range.exec(c), null, c);
  }
  const q = commandMatcher("MEASure:VOLTage:DC?", true);
  assert.ok(q.test("MEAS:VOLT:DC?") && q.test("measure:voltage:dc?"));
  assert.ok(!q.test("MEAS:VOLT:DC"));
  const psu = commandMatcher("VOLTage {value},(@1)", true);
  assert.equal(psu.exec("VOLT 5 , (@1)")?.[1], "5");
  assert.equal(psu.exec("VOLT 5,(@2)"), null);
  const ls = commandMatcher("SETP 1,{value}", true);
  assert.equal(ls.exec("setp 1, 300")?.[1], "300");
  const alicat = commandMatcher("AS{value}", false);
  assert.equal(alicat.exec("AS1.00")?.[1], "1.00");
  assert.equal(alicat.exec("BS1.00"), null);
  const star = commandMatcher("*RST", true);
  assert.ok(star.test("*rst"));
});

Deno.test("decodeBlock: the length field is decimal digits only (found by fuzzing)", () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  for (const bad of ["#2 12", "#2-1xyz", "#31e3", "#30x1abc", "#2+3abc"]) {
    assert.throws(() => decodeBlock(bytes(bad)), ParseError, bad);
  }
  assert.deepEqual(decodeBlock(bytes("#15hello")), { data: bytes("hello"), size: 8 });
});

Deno.test("parseAnswer: a layout token named like an Object property is a missing field", () => {
  const layout: Layout = { name: "l", split: " ", skip: 0, fields: ["a"], statusWords: [] };
  for (const token of ["constructor", "toString", "__proto__"]) {
    assert.throws(
      () => parseAnswer("1", { kind: "string", layout, token }),
      (err: unknown) => err instanceof ParseError && /no field/.test(err.message),
    );
  }
});
Deno.test("decodeBlockData reads every datatype in both byte orders", () => {
  const bytes = new Uint8Array([0x3f, 0xc0, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00]);
  assert.deepEqual(decodeBlockData(bytes, "f32", false), [1.5, -2]);
  assert.deepEqual(decodeBlockData(bytes, "u8", false).length, 8);
  assert.deepEqual(decodeBlockData(new Uint8Array([0xff, 0xfe]), "i16", false), [-2]);
  assert.deepEqual(decodeBlockData(new Uint8Array([0xfe, 0xff]), "i16", true), [-2]);
  assert.deepEqual(decodeBlockData(new Uint8Array([0, 0, 1, 0]), "u32", true), [65536]);
  assert.deepEqual(decodeBlockData(new Uint8Array([0x80]), "i8", false), [-128]);
  const f64 = new Uint8Array(8);
  new DataView(f64.buffer).setFloat64(0, Math.PI, true);
  assert.deepEqual(decodeBlockData(f64, "f64", true), [Math.PI]);
  assert.throws(
    () => decodeBlockData(new Uint8Array(3), "f32", false),
    /not a whole number of f32/,
  );
});
