import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { lineAddress, openLine } from "./open.ts";
import { openPty } from "./pty.ts";

Deno.test("lineAddress maps VISA strings and leaves addresses alone", () => {
  assert.equal(lineAddress("TCPIP0::10.0.0.7::5025::SOCKET"), "tcp://10.0.0.7:5025");
  assert.equal(lineAddress("ASRL/dev/ttyUSB0::INSTR"), "serial:///dev/ttyUSB0");
  assert.equal(lineAddress(" tcp://h:1 "), "tcp://h:1");
});

Deno.test("openLine refuses what is not a message-based address, saying what is", () => {
  for (const target of ["sim://gauge", "baratron://10.0.0.5", "ca://X:Y"]) {
    assert.throws(() => openLine(target), (e: unknown) => {
      assert.ok(e instanceof UsageError, target);
      assert.match(e.hint ?? "", /tcp:\/\/HOST:PORT.*ASRL/);
      return true;
    });
  }
  assert.throws(() => openLine("tcp://10.0.0.7"), /needs its port/);
  assert.throws(() => openLine("serial:///dev/ttyUSB0?parity=maybe"), /parity=maybe/);
});

Deno.test("openLine: serial defaults from the caller, overridden by the address", async () => {
  const pty = openPty();
  const line = openLine(`serial://${pty.path}?baud=38400`, {
    serial: { baud: 57600, stop: 2 },
    shared: false,
  });
  try {
    await line.stream.connect();
    const out = await new Deno.Command("stty", { args: ["-F", pty.path, "-a"], stdout: "piped" })
      .output();
    const s = new TextDecoder().decode(out.stdout);
    assert.match(s, /speed 38400 baud/);
    assert.match(s, /(^|\s)cstopb(\s|$)/);
  } finally {
    line.close();
    pty.close();
  }
});
