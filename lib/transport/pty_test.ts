import assert from "node:assert/strict";
import { parseAddress } from "../device/address.ts";
import { DeviceError } from "../device/errors.ts";
import { MessageLine } from "./message.ts";
import { openLine } from "./open.ts";
import { openPty } from "./pty.ts";
import { openSerial, parseSerialAddress } from "./serial.ts";
import { answerLines } from "../../tests/fixtures/pty_instrument.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `stty -F path -a`: what the kernel says the line settings are. */
async function stty(path: string): Promise<string> {
  const out = await new Deno.Command("stty", { args: ["-F", path, "-a"], stdout: "piped" })
    .output();
  assert.ok(out.success, "stty failed");
  return dec.decode(out.stdout);
}

/** Serves `answer(line)` on the master side of `pty` until it closes. */
async function serveLines(
  stream: MessageLine["stream"],
  answer: (line: string) => string | undefined,
) {
  let text = "";
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = await stream.read();
    } catch {
      return;
    }
    text += dec.decode(chunk);
    let i;
    while ((i = text.indexOf("\r\n")) >= 0) {
      const line = text.slice(0, i);
      text = text.slice(i + 2);
      const a = answer(line);
      // the other end may have closed; the test checks what arrived
      if (a !== undefined) await stream.write(enc.encode(a + "\r\n")).catch(() => {});
    }
  }
}

Deno.test("a serial line opened at 57600 7O1 on a pty has exactly those settings (stty -a)", async () => {
  const pty = openPty();
  assert.match(pty.path, /^\/dev\/pts\/\d+$/);
  const serving = serveLines(pty.stream, (l) => `got ${l}`);
  const settings = parseSerialAddress(
    parseAddress(`serial://${pty.path}?baud=57600&bits=7&parity=odd&stop=1&flow=none`),
  );
  const line = new MessageLine(openSerial(settings), {
    writeTermination: "\r\n",
    readTermination: "\r\n",
    resetOnTimeout: false,
  });
  try {
    assert.equal(await line.query("KRDG? A"), "got KRDG? A");
    const s = await stty(pty.path);
    assert.match(s, /speed 57600 baud/);
    // Linux's pty driver (pty_set_termios) forces CS8 and clears PARENB on every tcsetattr — a
    // pty has no wire to frame — so `stty` shows cs8 -parenb whatever any program asks (stty
    // itself then says "unable to perform all requested operations"). PARODD and the rest are
    // kept, so they prove what was asked; the CS7|PARENB bits are checked in termios_test.ts.
    for (const flag of ["parodd", "-cstopb", "-crtscts", "clocal", "cread"]) {
      assert.match(s, new RegExp(`(^|\\s)${flag}(\\s|$)`), `${flag} in:\n${s}`);
    }
    for (const flag of ["-icanon", "-echo", "-opost", "-icrnl", "-ixon", "inpck"]) {
      assert.match(s, new RegExp(`(^|\\s)${flag}(\\s|$)`), `${flag} in:\n${s}`);
    }
  } finally {
    line.close();
    pty.close();
    await serving;
  }
});

Deno.test("19200 8E2 with RTS/CTS reads back through stty too", async () => {
  const pty = openPty();
  const line = new MessageLine(
    openSerial(parseSerialAddress(
      parseAddress(`serial://${pty.path}?baud=19200&bits=8&parity=even&stop=2&flow=rtscts`),
    )),
  );
  try {
    await line.stream.connect();
    const s = await stty(pty.path);
    assert.match(s, /speed 19200 baud/);
    for (const flag of ["cs8", "-parodd", "cstopb", "crtscts", "inpck"]) {
      assert.match(s, new RegExp(`(^|\\s)${flag}(\\s|$)`), `${flag} in:\n${s}`);
    }
  } finally {
    line.close();
    pty.close();
  }
});

Deno.test("a vanished port fails reads clearly and the line re-opens when it returns", async () => {
  const dir = await Deno.makeTempDir();
  const link = `${dir}/ttyUSB-test`;
  let pty = openPty({ link });
  let serving = serveLines(pty.stream, (l) => l === "B" ? undefined : `one ${l}`);
  const line = new MessageLine(
    openSerial(parseSerialAddress(parseAddress(`serial://${link}?baud=19200`)), {
      backoffMin: 20,
      backoffMax: 50,
    }),
    { writeTermination: "\r\n", readTermination: "\r\n", resetOnTimeout: false, timeout: 1000 },
  );
  try {
    assert.equal(await line.query("A"), "one A");
    // Unplugged: the master goes away under a waiting read.
    const pending = line.query("B");
    await new Promise((r) => setTimeout(r, 50));
    pty.close();
    await serving;
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof DeviceError);
      assert.match(e.message, /serial:\/\/.*ttyUSB-test/);
      return true;
    });
    // While it is gone: the error says so.
    await assert.rejects(line.query("C"), /does not exist|stopped working|no answer/);
    // Plugged back in (a new pty behind the same name).
    pty = openPty({ link });
    serving = serveLines(pty.stream, (l) => `two ${l}`);
    let answer = "";
    for (let i = 0; i < 250 && !answer; i++) {
      answer = await line.query("D").catch(() => "");
      if (!answer) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(answer, "two D");
  } finally {
    line.close();
    pty.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client closing the port does not end the pty: the next client is served", async () => {
  const pty = openPty();
  const serving = serveLines(pty.stream, (l) => `ok ${l}`);
  const address = parseAddress(`serial://${pty.path}?baud=9600`);
  try {
    for (const n of [1, 2]) {
      const line = new MessageLine(openSerial(parseSerialAddress(address)), {
        writeTermination: "\r\n",
        readTermination: "\r\n",
      });
      assert.equal(await line.query(`client ${n}`), `ok client ${n}`);
      line.close();
    }
  } finally {
    pty.close();
    await serving;
  }
});

Deno.test("openLine shares one serial line between units on the same port (Alicat A and B)", async () => {
  const pty = openPty();
  // One unit answer per poll, CR-terminated, unit letter first, as an Alicat bus does.
  const serving = answerLines(pty, "\r", (unit) => `${unit} +014.70 +024.46 N2\r`, {
    delayMs: 2,
    ignoreClosed: true,
  });
  const opts = { writeTermination: "\r", readTermination: "\r", serial: { baud: 19200 } };
  const a = openLine(`ASRL${pty.path}::INSTR`, opts);
  const b = openLine(`serial://${pty.path}?baud=19200`, opts);
  try {
    assert.equal(a, b);
    assert.throws(() => openLine(`serial://${pty.path}?baud=9600`, opts), /other settings/);
    const polls = await Promise.all(
      ["A", "B", "A", "B", "A", "B"].map((u, i) =>
        (i % 2 ? b : a).query(u, { expect: (l) => l.startsWith(`${u} `) })
      ),
    );
    assert.deepStrictEqual(polls.map((p) => p[0]), ["A", "B", "A", "B", "A", "B"]);
  } finally {
    a.close();
    b.close();
    pty.close();
    await serving;
  }
});

Deno.test("a port named through a symlink shares the line of its real path", async () => {
  const pty = openPty();
  const dir = await Deno.makeTempDir();
  const link = `${dir}/by-id-adapter`;
  await Deno.symlink(pty.path, link);
  const a = openLine(`serial://${pty.path}`);
  const b = openLine(`serial://${link}`);
  try {
    assert.equal(a, b);
  } finally {
    a.close();
    b.close();
    pty.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 7O1 line re-opens on a pty whose driver dropped the parity bit (glibc EINVAL)", async () => {
  const pty = openPty();
  const serving = serveLines(pty.stream, (l) => `ok ${l}`);
  const address = parseAddress(`serial://${pty.path}?baud=57600&bits=7&parity=odd`);
  try {
    for (const n of [1, 2, 3]) {
      const line = new MessageLine(openSerial(parseSerialAddress(address)), {
        writeTermination: "\r\n",
        readTermination: "\r\n",
      });
      assert.equal(await line.query(`open ${n}`), `ok open ${n}`);
      line.close();
    }
  } finally {
    pty.close();
    await serving;
  }
});

Deno.test("openPty takes a simulator's 57600 7O1 settings (baud kept, 8N forced by the kernel)", async () => {
  const pty = openPty({ settings: { baud: 57600, bits: 7, parity: "odd" } });
  try {
    const s = await stty(pty.path);
    assert.match(s, /speed 57600 baud/);
    assert.match(s, /(^|\s)parodd(\s|$)/);
    assert.match(s, /(^|\s)-echo(\s|$)/);
  } finally {
    pty.close();
  }
});
