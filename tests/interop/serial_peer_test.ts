/**
 * labwire's serial transport against independent peers: pseudo-terminals made by socat, and
 * Python's pyserial (Debian python3-serial) on the other end of the line — neither shares code
 * or assumptions with lib/transport.
 */
import assert from "node:assert/strict";
import { parseAddress } from "../../lib/device/address.ts";
import { MessageLine } from "../../lib/transport/message.ts";
import { openPty } from "../../lib/transport/pty.ts";
import { openSerial, parseSerialAddress } from "../../lib/transport/serial.ts";
import { debianPython, findProgram, hasPythonModule, peerTest } from "../peers.ts";
import { runCli } from "../e2e/run_cli.ts";
import { answerLines } from "../fixtures/pty_instrument.ts";

const dec = new TextDecoder();

function missing(): string[] {
  const out: string[] = [];
  if (!findProgram("socat")) out.push("socat");
  if (!hasPythonModule("serial")) out.push("python3-serial");
  return out;
}

/** A Lake Shore 336 stand-in in pyserial: 57600 7O1, CR LF, two queries, answered until EOF. */
const STAND_IN = `
import serial, sys
port = serial.Serial(sys.argv[1], 57600, bytesize=7, parity="O", stopbits=1, timeout=0.05)
print("ready", flush=True)
buf = b""
answers = {b"*IDN?": b"LSCI,MODEL336,LSA1234/#######,2.9", b"KRDG? A": b"+077.350"}
while True:
    chunk = port.read(64)
    if not chunk:
        continue
    buf += chunk
    while b"\\r\\n" in buf:
        line, buf = buf.split(b"\\r\\n", 1)
        if line == b"QUIT":
            sys.exit(0)
        port.write(answers.get(line, b"?") + b"\\r\\n")
`;

/** Waits until `path` exists (socat makes its links after it starts). */
async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await Deno.lstat(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new Error(`${path} did not appear`);
}

peerTest(
  "labwire over a socat pty pair talks to a pyserial stand-in at 57600 7O1",
  missing,
  async () => {
    const dir = await Deno.makeTempDir();
    const a = `${dir}/a`;
    const b = `${dir}/b`;
    const socat = new Deno.Command("socat", {
      args: [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let python: Deno.ChildProcess | undefined;
    try {
      await waitFor(a);
      await waitFor(b);
      python = new Deno.Command(debianPython()!, {
        args: ["-c", STAND_IN, b],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = python.stdout.getReader();
      const first = await reader.read();
      assert.match(dec.decode(first.value), /ready/);
      reader.releaseLock();
      // The CLI, as a user would run it, and the library, as drivers use it.
      const r = await runCli([
        "query",
        `serial://${a}?baud=57600&bits=7&parity=odd&stop=1`,
        "--term",
        "CRLF",
        "*IDN?",
        "KRDG? A",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "LSCI,MODEL336,LSA1234/#######,2.9\n+077.350\n");
      const line = new MessageLine(
        openSerial(parseSerialAddress(parseAddress(`serial://${a}?baud=57600&bits=7&parity=odd`))),
        { writeTermination: "\r\n", readTermination: "\r\n", resetOnTimeout: false },
      );
      try {
        const answers = await Promise.all([line.query("KRDG? A"), line.query("*IDN?")]);
        assert.deepEqual(answers, ["+077.350", "LSCI,MODEL336,LSA1234/#######,2.9"]);
        await line.write("QUIT");
      } finally {
        line.close();
      }
      const status = await python.status;
      assert.equal(status.code, 0);
      python = undefined;
    } finally {
      if (python) {
        python.kill();
        await python.status;
      }
      socat.kill();
      await socat.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest("pyserial as a client of labwire's own pseudo-terminal", missing, async () => {
  const pty = openPty();
  const serving = answerLines(pty, "\r", (unit) => `${unit} +014.70 +024.46 +000.00 N2\r`);
  try {
    const client = `
import serial, sys
port = serial.Serial(sys.argv[1], 19200, timeout=2)
for unit in ("A", "B"):
    port.write(unit.encode() + b"\\r")
    print(port.read_until(b"\\r").decode().strip())
`;
    const out = await new Deno.Command(debianPython()!, {
      args: ["-c", client, pty.path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    assert.equal(
      dec.decode(out.stdout),
      "A +014.70 +024.46 +000.00 N2\nB +014.70 +024.46 +000.00 N2\n",
    );
  } finally {
    pty.close();
    await serving;
  }
});

/**
 * Whether strace may trace here (containers without CAP_SYS_PTRACE refuse); a refusal is an
 * environment limit like a missing root for the netns test, so the test skips saying so.
 */
function straceMissing(): string[] {
  const strace = findProgram("strace");
  if (!strace) return ["strace"];
  const probe = new Deno.Command(strace, { args: ["-qq", "-e", "trace=none", "true"] })
    .outputSync();
  return probe.success ? [] : ["strace (ptrace not permitted here)"];
}

peerTest(
  "7O1 reaches the kernel: strace shows CS7|PARENB|PARODD in labwire's TCSETS (a pty then forces cs8 -parenb)",
  straceMissing,
  async () => {
    const { startPtySimulator } = await import("../../lib/drivers/message/simulator.ts");
    const { findInstrument } = await import("../../lib/instruments/loader.ts");
    const sim = await startPtySimulator(await findInstrument("lakeshore-336"));
    const log = await Deno.makeTempFile({ prefix: "labwire-strace-" });
    try {
      const root = new URL("../../", import.meta.url).pathname;
      const out = await new Deno.Command("strace", {
        args: [
          "-f",
          "-qq",
          "-v",
          "-e",
          "trace=ioctl",
          "-o",
          log,
          Deno.execPath(),
          "run",
          "-A",
          `${root}main.ts`,
          "read",
          sim.address,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, dec.decode(out.stderr));
      assert.match(dec.decode(out.stdout), /"setpoint_1":/);
      const calls = (await Deno.readTextFile(log)).split("\n");
      // What labwire asked: the Lake Shore definition's 57600 7O1, raw, input parity checking.
      const set = calls.find((l) => /TCSETS/.test(l) && /c_cflag=B57600\|/.test(l));
      assert.ok(set, `no TCSETS at 57600 baud in:\n${calls.filter((l) => /TCSETS/.test(l))}`);
      for (const flag of ["CS7", "PARENB", "PARODD", "CREAD", "CLOCAL"]) {
        assert.match(set, new RegExp(`c_cflag=[^,]*\\b${flag}\\b`), flag);
      }
      assert.ok(!/c_cflag=[^,]*CSTOPB/.test(set), "one stop bit");
      assert.match(set, /c_iflag=INPCK[,|]/);
      assert.ok(!/c_lflag=[^,]*\b(ICANON|ECHO|ISIG)\b/.test(set), `raw mode: ${set}`);
      // What the pty kept (read back right after): Linux's pty driver has no wire to frame.
      const got = calls.slice(calls.indexOf(set) + 1).find((l) => /TCGETS, \{/.test(l));
      assert.ok(got);
      assert.match(got, /c_cflag=B57600\|CS8\|CREAD\|PARODD\|CLOCAL/);
    } finally {
      await sim.close();
      await Deno.remove(log);
    }
  },
);
