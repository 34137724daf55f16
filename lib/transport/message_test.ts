import assert from "node:assert/strict";
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { encodeBlock, Framer } from "./framing.ts";
import { MessageLine } from "./message.ts";
import { openLine } from "./open.ts";
import type { ByteStream, IoOptions } from "./byte_stream.ts";
import { openTcp } from "./tcp.ts";
import { responder } from "../../tests/fixtures/tcp_instrument.ts";

const enc = new TextEncoder();

Deno.test("query returns the answer without its termination (CR LF answers, LF commands)", async () => {
  const srv = responder((line) => ({
    answer: line === "*IDN?" ? "LSCI,MODEL336,1234/A,1.0\r\n" : undefined,
  }));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port), { readTermination: "\r\n" });
  try {
    assert.equal(await line.query("*IDN?"), "LSCI,MODEL336,1234/A,1.0");
    assert.equal(await line.query("*IDN?", { timeout: 1000 }), "LSCI,MODEL336,1234/A,1.0");
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("concurrent queries queue in order and each gets its own answer", async () => {
  // Answers come back after a delay that shrinks with the index: interleaved I/O would mix them.
  const srv = responder((line) => ({
    answer: `ans ${line}\n`,
    delay: 20 - Number(line.slice(1)),
  }));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  try {
    const queries = Array.from({ length: 20 }, (_, i) => line.query(`q${i}`));
    const answers = await Promise.all(queries);
    assert.deepStrictEqual(answers, Array.from({ length: 20 }, (_, i) => `ans q${i}`));
    assert.deepStrictEqual(srv.received.map((r) => r.line), answers.map((a) => a.slice(4)));
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("a timeout names the command; the late answer is never taken as the next one", async () => {
  let n = 0;
  const srv = responder((line) => {
    n++;
    // The first answer comes after the deadline, the others at once.
    return { answer: `${line}#${n}\n`, delay: n === 1 ? 500 : 0 };
  });
  const line = new MessageLine(openTcp("127.0.0.1", srv.port), { timeout: 60 });
  try {
    await assert.rejects(line.query("SLOW?"), (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /no answer to "SLOW\?" within 60 ms/);
      return true;
    });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await line.query("NEXT?", { timeout: 1000 }), "NEXT?#2");
    // The suspect connection was replaced.
    assert.equal(srv.accepted, 2);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("serial-style lines flush a late answer after a timeout instead of reconnecting", async () => {
  let n = 0;
  const srv = responder((line) => {
    n++;
    return { answer: `${line}#${n}\n`, delay: n === 1 ? 100 : 0 };
  });
  const line = new MessageLine(openTcp("127.0.0.1", srv.port), {
    timeout: 50,
    resetOnTimeout: false,
    quiet: 400,
  });
  try {
    await assert.rejects(line.query("SLOW?"), TimeoutError);
    // The late answer arrives while the next exchange waits for quiet: dropped.
    assert.equal(await line.query("NEXT?", { timeout: 1000 }), "NEXT?#2");
    assert.equal(srv.accepted, 1);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("a partial answer without termination is reported as such", async () => {
  const srv = responder(() => ({ answer: "1.234" }));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port), { timeout: 80 });
  try {
    await assert.rejects(line.query("MEAS?"), (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /received "1\.234" but no read termination "\\n"/);
      return true;
    });
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("queryBlock returns the data of a definite-length block, then lines work again", async () => {
  const data = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
  const block = encodeBlock(data);
  const srv = responder((line) => {
    if (line === "CURV?") {
      const out = new Uint8Array(block.length + 1);
      out.set(block);
      out[block.length] = 10;
      return { answer: out };
    }
    return { answer: "ok\n" };
  });
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  try {
    assert.deepStrictEqual(await line.queryBlock("CURV?"), data);
    assert.equal(await line.query("X?"), "ok");
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("exchange runs multi-step protocols (ACK/ENQ) with no other command in between", async () => {
  const srv = responder((line) => {
    if (line === "PR1") return { answer: "\x06\r\n", delay: 10 };
    if (line === "\x05") return { answer: "0,+7.5000E-03\r\n" };
    if (line === "other") return { answer: "x\r\n" };
    return { answer: "\x15\r\n" };
  }, new RegExp("\r\n|(\x05)"));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port), {
    writeTermination: "\r\n",
    readTermination: "\r\n",
  });
  try {
    const pressure = line.exchange(async (io) => {
      const ack = await io.query("PR1");
      if (ack !== "\x06") throw new Error(`NAK: ${JSON.stringify(ack)}`);
      await io.writeBytes(new Uint8Array([5]));
      return await io.readLine();
    });
    const other = line.query("other");
    const [p, o] = await Promise.allSettled([pressure, other]);
    assert.deepStrictEqual(p, { status: "fulfilled", value: "0,+7.5000E-03" });
    assert.deepStrictEqual(o, { status: "fulfilled", value: "x" });
    assert.deepStrictEqual(srv.received.map((r) => r.line), ["PR1", "\x05", "other"]);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("readBytes reads a binary answer of known size inside an exchange", async () => {
  const srv = responder(() => ({ answer: new Uint8Array([0, 1, 10, 255, 13, 7]) }));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  try {
    const got = await line.exchange(async (io) => {
      await io.write("RAW?");
      return [await io.readBytes(4), await io.readBytes(2)];
    });
    assert.deepStrictEqual(got, [new Uint8Array([0, 1, 10, 255]), new Uint8Array([13, 7])]);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("request sends raw bytes and returns the answer its framing takes; lines go on after it", async () => {
  // Length-prefixed answers ([n, ...n bytes]); the framing is the caller's.
  const srv = responder((line) => ({
    answer: line === "A"
      ? new Uint8Array([3, 7, 8, 9])
      : line === "B"
      ? new Uint8Array([1, 42])
      : "ok\r\n",
  }));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  const calls: number[] = [];
  const take = (f: Framer) => {
    calls.push(f.size);
    const head = f.peek(1);
    return head && f.bytes(1 + head[0]!)?.subarray(1);
  };
  try {
    assert.deepStrictEqual(await line.request(enc.encode("A\n"), take), new Uint8Array([7, 8, 9]));
    assert.deepStrictEqual(await line.request(enc.encode("B\n"), take), new Uint8Array([42]));
    assert.equal(await line.query("C"), "ok");
    assert.equal(srv.received.length, 3);
    // The framing is asked before anything arrived, and again after each arrival.
    assert.equal(calls[0], 0);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("request names itself in a timeout only when it fails (a lazy what)", async () => {
  const srv = responder(() => ({}));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  let named = 0;
  try {
    await assert.rejects(
      line.request(enc.encode("X\n"), () => undefined, { timeout: 100 }, () => {
        named++;
        return "read holding 0";
      }),
      (e: unknown) =>
        e instanceof TimeoutError && /no answer to "read holding 0" within 100 ms/.test(e.message),
    );
    assert.equal(named, 1);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("minDelay spaces commands out", async () => {
  const srv = responder(() => ({ answer: "1\n" }));
  // When each command is handed to the stream, seen from the client (server-side arrival times
  // would carry the server's own scheduling delays).
  const stream = openTcp("127.0.0.1", srv.port);
  const sent: number[] = [];
  const timed: ByteStream = {
    label: stream.label,
    get closed() {
      return stream.closed;
    },
    get connected() {
      return stream.connected;
    },
    connect: (opts) => stream.connect(opts),
    write: (bytes: Uint8Array, opts?: IoOptions) => {
      sent.push(performance.now());
      return stream.write(bytes, opts);
    },
    read: (opts) => stream.read(opts),
    discard: () => stream.discard(),
    reset: () => stream.reset(),
    close: () => stream.close(),
  };
  const line = new MessageLine(timed, { minDelay: 40 });
  try {
    for (let i = 0; i < 4; i++) await line.query("Q?");
    assert.equal(sent.length, 4);
    for (let i = 1; i < sent.length; i++) {
      assert.ok(sent[i]! - sent[i - 1]! >= 39.5, `gap ${sent[i]! - sent[i - 1]!} ms`);
    }
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("expect skips another unit's answer on a shared bus", async () => {
  const srv = responder((line) => ({ answer: `B +14.7 stale\r${line} +14.7 +24.4\r` }), "\r");
  const line = new MessageLine(openTcp("127.0.0.1", srv.port), {
    writeTermination: "\r",
    readTermination: "\r",
  });
  try {
    const answer = await line.query("A", { expect: (a) => a.startsWith("A ") });
    assert.equal(answer, "A +14.7 +24.4");
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("a busy shared line times out saying so, without sending", async () => {
  const srv = responder((line) => ({ answer: `${line}\n`, delay: 150 }));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  try {
    const slow = line.query("SLOW?", { timeout: 1000 });
    await assert.rejects(line.query("QUICK?", { timeout: 40 }), (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(
        e.message,
        /"QUICK\?" was not sent: the line stayed busy for 40 ms \(1 exchange ahead/,
      );
      return true;
    });
    assert.equal(await slow, "SLOW?");
    assert.deepStrictEqual(srv.received.map((r) => r.line), ["SLOW?"]);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("an aborted query rethrows the caller's reason", async () => {
  const srv = responder(() => ({}));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  try {
    const ac = new AbortController();
    const p = line.query("NEVER?", { signal: ac.signal, timeout: 5000 });
    setTimeout(() => ac.abort(new Error("stopped by user")), 30);
    await assert.rejects(p, /stopped by user/);
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("a task's signal reused by many exchanges still aborts the one in flight; other signals too", async () => {
  const srv = responder((line) => line.startsWith("NEVER") ? {} : { answer: `${line}\n` });
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  try {
    const task = new AbortController();
    for (let i = 0; i < 20; i++) {
      assert.equal(await line.query(`Q${i}?`, { signal: task.signal }), `Q${i}?`);
    }
    // Callers with signals of their own (API requests) come and go meanwhile.
    const others = Array.from({ length: 8 }, () => new AbortController());
    for (const [i, o] of others.entries()) {
      assert.equal(await line.query(`R${i}?`, { signal: o.signal }), `R${i}?`);
    }
    const p = line.query("NEVER?", { signal: task.signal, timeout: 5000 });
    setTimeout(() => task.abort(new Error("task stopped")), 30);
    await assert.rejects(p, /task stopped/);
    const q = line.query("NEVER2?", { signal: others[7]!.signal, timeout: 5000 });
    setTimeout(() => others[7]!.abort(new Error("request gone")), 30);
    await assert.rejects(q, /request gone/);
    // An already aborted signal stops the exchange before anything is sent.
    await assert.rejects(line.query("LATE?", { signal: task.signal }), /task stopped/);
    assert.ok(!srv.received.some((r) => r.line === "LATE?"));
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("the line reconnects after the instrument drops the connection", async () => {
  const srv = responder((line, conn) => ({ answer: `${line}@${conn}\n` }));
  const line = new MessageLine(openTcp("127.0.0.1", srv.port));
  try {
    assert.equal(await line.query("A?"), "A?@1");
    srv.dropClients();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await line.query("B?"), "B?@2");
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("a connection closed instead of an answer fails the query with that, not a timeout", async () => {
  const srv = responder((line) => {
    if (line !== "BYE?") return { answer: "ok\n" };
    srv.dropClients();
    return {};
  });
  const line = new MessageLine(openTcp("127.0.0.1", srv.port), { timeout: 20_000 });
  try {
    assert.equal(await line.query("A?"), "ok");
    await assert.rejects(
      line.query("BYE?"),
      (err) =>
        err instanceof DeviceError && !(err instanceof TimeoutError) &&
        /closed by the other end/.test(err.message),
    );
    assert.equal(await line.query("A?"), "ok", "the next query connects again");
  } finally {
    line.close();
    await srv.close();
  }
});

Deno.test("devices on one port share one line; other settings on it are refused", async () => {
  const srv = responder((line) => ({ answer: `${line}\n`, delay: 5 }));
  const target = `TCPIP0::127.0.0.1::${srv.port}::SOCKET`;
  const a = openLine(target);
  const b = openLine(`tcp://127.0.0.1:${srv.port}?instrument=x`);
  try {
    assert.equal(a, b);
    assert.throws(
      () => openLine(target, { readTermination: "\r" }),
      (e: unknown) =>
        e instanceof DeviceError && /already open with other settings/.test(e.message),
    );
    const answers = await Promise.all(["Aq", "Bq", "Aq2", "Bq2"].map((c) => a.query(c)));
    assert.deepStrictEqual(answers, ["Aq", "Bq", "Aq2", "Bq2"]);
    a.close();
    assert.equal(b.closed, false);
    assert.equal(await b.query("still"), "still");
  } finally {
    b.close();
    await srv.close();
  }
  assert.equal(b.closed, true);
  const c = openLine(`tcp://127.0.0.1:${srv.port}`);
  assert.notEqual(c, a);
  c.close();
});
