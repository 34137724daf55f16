import assert from "node:assert/strict";
import { hostPort, isAddress, parseAddress, plainAddresses } from "./address.ts";
import { UsageError } from "./errors.ts";

Deno.test("parseAddress keeps PV names, hosts and options", () => {
  const ca = parseAddress("ca://XXX:m1.VAL");
  assert.equal(ca.scheme, "ca");
  assert.equal(ca.target, "XXX:m1.VAL");
  const b = parseAddress("baratron://10.0.0.5:8081?timeout=2s");
  assert.equal(b.target, "10.0.0.5:8081");
  assert.equal(b.params.get("timeout"), "2s");
  assert.equal(parseAddress("SIM://gauge?seed=3").scheme, "sim");
});

Deno.test("parseAddress refuses things that are not addresses, with a hint", () => {
  assert.throws(() => parseAddress("baratron://"), /not a device address/);
  assert.throws(() => parseAddress("10.0.0.5"), /not a device address/);
  assert.equal(isAddress("gauge1"), false);
  assert.equal(isAddress("sim://gauge"), true);
});

Deno.test("hostPort splits hosts, IPv6 and ports", () => {
  assert.deepEqual(hostPort("10.0.0.5", 80), { host: "10.0.0.5", port: 80 });
  assert.deepEqual(hostPort("10.0.0.5:8081", 80), { host: "10.0.0.5", port: 8081 });
  assert.deepEqual(hostPort("[::1]:9000", 80), { host: "[::1]", port: 9000 });
  assert.throws(() => hostPort("host:99999", 80), /out of range/);
});

Deno.test("parseAddress: a malformed %-escape is a usage error, not a URIError", () => {
  assert.throws(() => parseAddress("sim://%zz"), UsageError);
  assert.throws(() => parseAddress("ca://XXX:%E0%A4%A"), /malformed %-escape/);
  assert.equal(parseAddress("ca://A%25B").target, "A%B");
});

Deno.test("VISA resource strings read as the tcp:// or serial:// address they name", () => {
  const t = parseAddress("TCPIP0::10.0.0.7::5025::SOCKET");
  assert.equal(t.scheme, "tcp");
  assert.equal(t.target, "10.0.0.7:5025");
  assert.equal(t.text, "TCPIP0::10.0.0.7::5025::SOCKET");
  const s = parseAddress("ASRL/dev/ttyUSB0::INSTR");
  assert.equal(s.scheme, "serial");
  assert.equal(s.target, "/dev/ttyUSB0");
  assert.match(parseAddress("ASRL1::INSTR").note ?? "", /\/dev\/ttyS0/);
  assert.equal(isAddress("TCPIP::h::5025::SOCKET"), true);
  assert.equal(isAddress("ASRL/dev/pts/3::INSTR"), true);
  assert.throws(() => parseAddress("GPIB0::12::INSTR"), /GPIB resources are not supported/);
});

Deno.test("a VISA string takes ?options like an address (?instrument=NAME)", () => {
  const a = parseAddress("TCPIP0::127.0.0.1::5025::SOCKET?instrument=keysight-34461a");
  assert.equal(a.scheme, "tcp");
  assert.equal(a.target, "127.0.0.1:5025");
  assert.equal(a.params.get("instrument"), "keysight-34461a");
  const s = parseAddress("ASRL/dev/ttyUSB0::INSTR?instrument=alicat&unit=B");
  assert.deepEqual([s.scheme, s.target, s.params.get("unit")], ["serial", "/dev/ttyUSB0", "B"]);
});

Deno.test("plainAddresses reads a list of plain addresses of one scheme, and nothing else", () => {
  const texts = ["ca://B:pv1", "ca://B:pv2.VAL", "ca://a\nca://b"];
  assert.deepEqual(plainAddresses(texts), texts.map(parseAddress));
  for (
    const other of [
      "sim://gauge",
      "ca://B?timeout=2s",
      "ca://B#x",
      "ca://B%41",
      "ca://B ",
      "ca://é",
      "CA://B",
      "ca://",
      "gauge",
      "ca://a\n",
    ]
  ) {
    assert.equal(plainAddresses([...texts, other]), undefined, other);
  }
  assert.equal(plainAddresses([]), undefined);
});
