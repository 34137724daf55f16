import assert from "node:assert/strict";
import { FdConn } from "./fd_conn.ts";
import { openPty } from "./pty.ts";
import { libc, O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDWR } from "./termios.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("FdConn reads what arrives, and end of stream when the writer closes", async () => {
  const c = libc();
  const [r, w] = c.pipe();
  const conn = new FdConn(r);
  try {
    const buf = new Uint8Array(64);
    const pending = conn.read(buf);
    c.write(w, enc.encode("hello"));
    const n = await pending;
    assert.equal(dec.decode(buf.subarray(0, n ?? 0)), "hello");
    c.close(w);
    assert.equal(await conn.read(buf), null);
  } finally {
    conn.close();
  }
});

Deno.test("close() ends a pending read at once; the next opener of the tty gets the next bytes", async () => {
  // The bug this class exists for: a closed Deno.FsFile's reader stayed in read(2) and stole
  // the answer meant for the next program to open the port.
  const c = libc();
  const pty = openPty();
  const flags = O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
  try {
    const first = new FdConn(c.open(pty.path, flags));
    const buf = new Uint8Array(64);
    const pending = first.read(buf);
    first.close();
    assert.equal(await pending, null);
    assert.equal(first.closed, true);
    const second = new FdConn(c.open(pty.path, flags));
    try {
      await pty.stream.write(enc.encode("next"));
      const n = await second.read(buf);
      assert.equal(dec.decode(buf.subarray(0, n ?? 0)), "next");
    } finally {
      second.close();
    }
  } finally {
    pty.close();
  }
});

Deno.test("FdConn writes, and a write to a reader that hung up fails", async () => {
  const c = libc();
  const [r, w] = c.pipe();
  const conn = new FdConn(w);
  try {
    assert.equal(await conn.write(enc.encode("abc")), 3);
    const buf = new Uint8Array(8);
    assert.equal(c.read(r, buf), 3);
    c.close(r);
    await assert.rejects(conn.write(enc.encode("x")));
  } finally {
    conn.close();
  }
});
