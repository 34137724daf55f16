import assert from "node:assert/strict";
import { parseAddress } from "./address.ts";
import { UsageError } from "./errors.ts";
import { isVisa, visaToAddress } from "./visa.ts";

Deno.test("VISA sockets map to tcp:// addresses", () => {
  assert.deepStrictEqual(visaToAddress("TCPIP0::10.0.0.7::5025::SOCKET"), {
    address: "tcp://10.0.0.7:5025",
  });
  assert.deepStrictEqual(visaToAddress("tcpip::lab-dmm.local::5555::socket"), {
    address: "tcp://lab-dmm.local:5555",
  });
  assert.equal(visaToAddress(" TCPIP::127.0.0.1::7777::SOCKET ")?.address, "tcp://127.0.0.1:7777");
});

Deno.test("VISA serial resources map to serial:// addresses", () => {
  assert.deepStrictEqual(visaToAddress("ASRL/dev/ttyUSB0::INSTR"), {
    address: "serial:///dev/ttyUSB0",
  });
  assert.deepStrictEqual(visaToAddress("ASRL/dev/pts/7::INSTR")?.address, "serial:///dev/pts/7");
  const m = visaToAddress("ASRL1::INSTR");
  assert.equal(m?.address, "serial:///dev/ttyS0");
  assert.match(m?.note ?? "", /ASRL1 is \/dev\/ttyS0/);
  assert.equal(visaToAddress("asrl3::instr")?.address, "serial:///dev/ttyS2");
});

Deno.test("non-VISA text is left alone", () => {
  for (const t of ["tcp://h:1", "dmm", "sim://gauge", "10.0.0.7:5025", "ca://X:Y"]) {
    assert.equal(isVisa(t), false, t);
    assert.equal(visaToAddress(t), undefined, t);
  }
});

Deno.test("VISA kinds labwire cannot speak are refused with what to use", () => {
  const cases: [string, RegExp][] = [
    ["TCPIP0::10.0.0.7::INSTR", /VXI-11.*TCPIP0::10\.0\.0\.7::5025::SOCKET/s],
    ["TCPIP0::10.0.0.7::hislip0::INSTR", /HiSLIP/],
    ["GPIB0::12::INSTR", /GPIB resources are not supported/],
    ["USB0::0x2A8D::0x1301::MY1::INSTR", /USB resources are not supported/],
    ["TCPIP0::10.0.0.7::99999::SOCKET", /bad host or port/],
    ["TCPIP0::10.0.0.7::SOCKET", /not a VISA socket/],
    ["ASRLx::INSTR", /unknown serial port "x"/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => visaToAddress(text), (e: unknown) => {
      assert.ok(e instanceof UsageError, text);
      assert.match(`${e.message} ${e.hint}`, re);
      return true;
    });
  }
});

Deno.test("a VISA host or device path keeps its meaning as an address (found by fuzzing)", () => {
  // "a?b" used to become tcp://a?b:5025: host "a", the port lost in a query string.
  for (const host of ["a?b", "a#b", "a/b", "%zz", ""]) {
    assert.throws(() => visaToAddress(`TCPIP0::${host}::5025::SOCKET`), UsageError, host);
  }
  assert.equal(
    visaToAddress("TCPIP0::gauge-3.lab::5025::SOCKET")!.address,
    "tcp://gauge-3.lab:5025",
  );
  assert.equal(
    parseAddress(visaToAddress("ASRL/dev/tty%1?::INSTR")!.address).target,
    "/dev/tty%1?",
  );
});
