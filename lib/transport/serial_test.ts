import assert from "node:assert/strict";
import { parseAddress } from "../device/address.ts";
import { DeviceError, UsageError } from "../device/errors.ts";
import {
  describePortError,
  openSerial,
  parseSerialAddress,
  parseSerialOptions,
  serialSettingsText,
} from "./serial.ts";
import { OsError } from "./termios.ts";

Deno.test("serial options parse over defaults", () => {
  assert.deepStrictEqual(parseSerialOptions(new URLSearchParams("")), {
    baud: 9600,
    bits: 8,
    parity: "none",
    stop: 1,
    flow: "none",
  });
  assert.deepStrictEqual(
    parseSerialOptions(new URLSearchParams("baud=19200&parity=N&flow=hardware&stop=2"), {
      bits: 7,
    }),
    { baud: 19200, bits: 7, parity: "none", stop: 2, flow: "rtscts" },
  );
  const s = parseSerialAddress(parseAddress("ASRL/dev/ttyUSB0::INSTR"), { baud: 57600 });
  assert.equal(s.path, "/dev/ttyUSB0");
  assert.equal(s.baud, 57600);
  assert.equal(serialSettingsText(s), "57600 8N1");
  assert.equal(
    serialSettingsText({ baud: 9600, bits: 7, parity: "even", stop: 2, flow: "xonxoff" }),
    "9600 7E2 +xonxoff",
  );
});

Deno.test("bad serial options name the key and what it accepts", () => {
  const cases: [string, RegExp][] = [
    ["baud=12345", /baud=12345.*baud must be one of .*19200/s],
    ["baud=fast", /baud=fast/],
    ["bits=9", /bits=9.*5, 6, 7 or 8/s],
    ["parity=x", /parity=x.*none, even, odd, mark or space/s],
    ["stop=1.5", /stop=1\.5.*no 1\.5 stop bits/s],
    ["flow=dsr", /flow=dsr.*rtscts/s],
  ];
  for (const [q, re] of cases) {
    assert.throws(() => parseSerialOptions(new URLSearchParams(q)), (e: unknown) => {
      assert.ok(e instanceof UsageError, q);
      assert.match(`${e.message} ${e.hint}`, re);
      return true;
    });
  }
  assert.throws(
    () => parseSerialAddress(parseAddress("serial://dev/ttyUSB0")),
    (e: unknown) => e instanceof UsageError && /serial:\/\/\/dev\/ttyUSB0/.test(e.hint ?? ""),
  );
});

Deno.test("port errors say what to do", () => {
  const cases: [number, RegExp][] = [
    [2, /\/dev\/ttyUSB9 does not exist; check that the adapter is plugged in/],
    [13, /permission denied; add yourself to the dialout group: sudo usermod -aG dialout \$USER/],
    [16, /busy.*fuser \/dev\/ttyUSB9/],
    [25, /not a serial port/],
  ];
  for (const [errno, re] of cases) {
    const e = describePortError("/dev/ttyUSB9", new OsError("open", errno, "x"));
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, re);
  }
});

Deno.test("opening a missing port is a DeviceError naming it", async () => {
  const s = openSerial(parseSerialAddress(parseAddress("serial:///dev/ttyUSB-labwire-none")));
  try {
    await assert.rejects(s.connect({ timeout: 1000 }), (e: unknown) => {
      assert.ok(e instanceof DeviceError);
      assert.match(e.message, /serial port \/dev\/ttyUSB-labwire-none does not exist/);
      return true;
    });
  } finally {
    s.close();
  }
});

Deno.test("a file that is not a tty is refused as not a serial port", async () => {
  const file = await Deno.makeTempFile();
  const s = openSerial(parseSerialAddress(parseAddress(`serial://${file}`)));
  try {
    await assert.rejects(s.connect({ timeout: 1000 }), /is not a serial port/);
  } finally {
    s.close();
    await Deno.remove(file);
  }
});
