import assert from "node:assert/strict";
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { HttpClient, httpPost } from "./http.ts";
import { describeFailure } from "./http_failure.ts";

const enc = new TextEncoder();

/**
 * A raw TCP server on a free loopback port that answers each connection with `handle`, so the
 * client is tested against hand-written HTTP (including broken HTTP) rather than against itself.
 */
function rawServer(handle: (conn: Deno.Conn, request: string) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            await handle(conn, new TextDecoder().decode(buf.subarray(0, n)));
          }
        } catch {
          // The test closed the connection.
        } finally {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* already closed */ }
        }
      })();
    }
  })();
  return {
    origin: `http://127.0.0.1:${listener.addr.port}`,
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await loop;
    },
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("content-length answers on one kept-alive connection; the request is well-formed", async () => {
  const requests: string[] = [];
  const srv = rawServer(async (conn, req) => {
    requests.push(req);
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"));
  });
  const client = new HttpClient(srv.origin);
  try {
    for (let i = 0; i < 3; i++) {
      const r = await client.post("/ToolWeb/Cmd", "<x/>", {
        timeout: 1000,
        headers: { "content-type": "text/xml" },
      });
      assert.equal(r.status, 200);
      assert.equal(r.statusText, "OK");
      assert.equal(r.text, "hello");
      assert.equal(r.headers.get("x-a"), "1");
    }
    assert.equal(srv.accepted, 1);
    const host = new URL(srv.origin).host;
    assert.equal(
      requests[0],
      `POST /ToolWeb/Cmd HTTP/1.1\r\nhost: ${host}\r\ncontent-type: text/xml\r\n` +
        `content-length: 4\r\n\r\n<x/>`,
    );
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("chunked answers, 100 Continue and close-delimited bodies are read whole", async () => {
  let n = 0;
  const srv = rawServer(async (conn) => {
    n++;
    if (n === 1) {
      await conn.write(enc.encode(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n",
      ));
    } else {
      await conn.write(enc.encode("HTTP/1.0 500 Internal Server Error\r\n\r\nbroken"));
      conn.close();
    }
  });
  const client = new HttpClient(srv.origin);
  try {
    const a = await client.post("/", "", { timeout: 1000 });
    assert.deepEqual([a.status, a.text], [200, "abcdefg"]);
    const b = await client.post("/", "", { timeout: 1000 });
    assert.deepEqual([b.status, b.text], [500, "broken"]);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("a kept-alive connection closed by the server while idle is reopened once", async () => {
  const srv = rawServer(async (conn) => {
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    conn.close(); // as a device that ignores keep-alive without saying so
  });
  const client = new HttpClient(srv.origin);
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal((await client.post("/", "", { timeout: 1000 })).text, "ok");
    }
    assert.equal(srv.accepted, 3);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("refused: a DeviceError saying what was tried and what to check", async () => {
  const port = freePort();
  await assert.rejects(
    httpPost(`http://127.0.0.1:${port}/ToolWeb/Cmd`, "<x/>", { timeout: 1000, device: "g" }),
    (err: unknown) => {
      assert.ok(err instanceof DeviceError);
      assert.equal(err.device, "g");
      assert.equal(
        err.message,
        `POST http://127.0.0.1:${port}/ToolWeb/Cmd: connection refused; nothing listens on ` +
          `127.0.0.1:${port}; check the address and port, and that the device's web server is on`,
      );
      return true;
    },
  );
});

Deno.test("timeout: a TimeoutError after the deadline, and the client recovers", async () => {
  let n = 0;
  const srv = rawServer(async (conn) => {
    if (++n === 1) return; // never answer the first request
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
  const client = new HttpClient(srv.origin);
  try {
    await assert.rejects(client.post("/x", "", { timeout: 50 }), (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.match(err.message, /^POST http:\/\/127\.0\.0\.1:\d+\/x: no answer within 50 ms; /);
      assert.match(err.message, /\?timeout=/);
      return true;
    });
    assert.equal((await client.post("/x", "", { timeout: 1000 })).text, "ok");
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("reset and truncated answers are device errors, not crashes", async () => {
  let n = 0;
  const srv = rawServer(async (conn) => {
    n++;
    if (n === 1) conn.close();
    else if (n === 2) {
      await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"));
      conn.close();
    } else if (n === 3) {
      await conn.write(enc.encode("SSH-2.0-OpenSSH\r\n\r\n"));
    }
  });
  try {
    await assert.rejects(
      httpPost(`${srv.origin}/`, "", { timeout: 1000 }),
      /connection was dropped before an answer/,
    );
    await assert.rejects(
      httpPost(`${srv.origin}/`, "", { timeout: 1000 }),
      /bad HTTP answer: the answer broke off after 5 of 100 bytes/,
    );
    await assert.rejects(
      httpPost(`${srv.origin}/`, "", { timeout: 1000 }),
      /bad HTTP answer: not an HTTP answer \(starts "SSH-2.0-OpenSSH"\)/,
    );
  } finally {
    await srv.close();
  }
});

Deno.test("the caller's abort is rethrown as its own reason, not as a device error", async () => {
  const srv = rawServer(() => Promise.resolve()); // never answers
  const client = new HttpClient(srv.origin);
  const controller = new AbortController();
  const reason = new Error("stopped by test");
  try {
    const p = client.post("/", "", { timeout: 5000, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(p, (err: unknown) => err === reason);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("DNS and unreachable failures get their own hint", () => {
  const dns = describeFailure(
    new Error("failed to lookup address information: Name or service not known"),
    "POST http://gauge.lab/ToolWeb/Cmd",
    "gauge.lab",
    1000,
  );
  assert.match(dns.message, /the host name does not resolve; check the spelling/);
  const net = describeFailure(
    new Error("Network is unreachable (os error 101)"),
    "POST http://10.9.9.9/ToolWeb/Cmd",
    "10.9.9.9",
    1000,
  );
  assert.match(net.message, /network is unreachable; check cabling/);
});

Deno.test("concurrent requests share one connection in turn; a queued timeout spares the one ahead", async () => {
  const srv = rawServer(async (conn, req) => {
    await new Promise((r) => setTimeout(r, 30));
    const body = req.slice(req.indexOf("\r\n\r\n") + 4);
    await conn.write(
      enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    );
  });
  const client = new HttpClient(srv.origin);
  try {
    const answers = await Promise.all(
      ["a", "b", "c"].map((b) => client.post("/", b, { timeout: 2000 }).then((r) => r.text)),
    );
    assert.deepEqual(answers, ["a", "b", "c"]);
    const ahead = client.post("/", "first", { timeout: 2000 });
    const queued = client.post("/", "second", { timeout: 10 });
    await assert.rejects(queued, TimeoutError);
    assert.equal((await ahead).text, "first");
    assert.equal((await client.post("/", "third", { timeout: 2000 })).text, "third");
    assert.equal(srv.accepted, 1);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("one signal shared by many requests aborts every one of them, and only once", async () => {
  const srv = rawServer(() => Promise.resolve()); // never answers
  const clients = Array.from({ length: 20 }, () => new HttpClient(srv.origin));
  const controller = new AbortController();
  const reason = new Error("stopped by test");
  try {
    // One finishes early (its deadline): the others still hear the abort.
    const early = clients[0]!.post("/", "", { timeout: 20, signal: controller.signal });
    const rest = clients.slice(1).map((c) =>
      c.post("/", "", { timeout: 5000, signal: controller.signal })
    );
    await assert.rejects(early, TimeoutError);
    setTimeout(() => controller.abort(reason), 20);
    const results = await Promise.allSettled(rest);
    assert.ok(results.every((r) => r.status === "rejected" && r.reason === reason));
  } finally {
    for (const c of clients) c.close();
    await srv.close();
  }
});

Deno.test("an answer that comes after the timeout is skipped; the connection is kept", async () => {
  const srv = rawServer(async (conn, req) => {
    // Each answer echoes its request's body; bodies starting "slow" are answered late (within
    // one more timeout after their own).
    const body = req.slice(req.indexOf("\r\n\r\n") + 4);
    if (body.startsWith("slow")) await new Promise((r) => setTimeout(r, 150));
    await conn.write(
      enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    );
  });
  const client = new HttpClient(srv.origin);
  try {
    // The late answer comes while no request waits.
    await assert.rejects(client.post("/", "slow 1", { timeout: 100 }), TimeoutError);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await client.post("/", "second", { timeout: 2000 })).text, "second");
    // Sent while "slow 2" is still due: it goes out once that answer has come and been skipped.
    await assert.rejects(client.post("/", "slow 2", { timeout: 100 }), TimeoutError);
    assert.equal((await client.post("/", "third", { timeout: 2000 })).text, "third");
    assert.equal((await client.post("/", "fourth", { timeout: 2000 })).text, "fourth");
    assert.equal(srv.accepted, 1);
  } finally {
    client.close();
    await srv.close();
  }
});

/** A server that never answers the first request it gets and answers "ok" to every later one. */
function firstRequestUnanswered() {
  let n = 0;
  return rawServer(async (conn) => {
    if (++n === 1) return;
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
}

Deno.test("a device that never answers a timed-out request: the next one waits for it only one more timeout, then reconnects", async () => {
  const srv = firstRequestUnanswered();
  const client = new HttpClient(srv.origin);
  try {
    await assert.rejects(client.post("/", "", { timeout: 100 }), TimeoutError);
    const t = performance.now();
    // Its own timeout is long; the late answer is waited for only one more of the first's.
    assert.equal((await client.post("/", "", { timeout: 5000 })).text, "ok");
    const waited = performance.now() - t;
    assert.ok(waited >= 90, `waited for the late answer first (${waited} ms)`);
    assert.ok(waited < 2500, `then reconnected, not after half its own timeout (${waited} ms)`);
    assert.equal(srv.accepted, 2);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("a request long after a timed-out one whose answer never came reconnects at once", async () => {
  const srv = firstRequestUnanswered();
  const client = new HttpClient(srv.origin);
  try {
    await assert.rejects(client.post("/", "", { timeout: 50 }), TimeoutError);
    await new Promise((r) => setTimeout(r, 200));
    const t = performance.now();
    assert.equal((await client.post("/", "", { timeout: 5000 })).text, "ok");
    const waited = performance.now() - t;
    assert.ok(waited < 2500, `no wait for an answer that is long lost (${waited} ms)`);
    assert.equal(srv.accepted, 2);
  } finally {
    client.close();
    await srv.close();
  }
});

/**
 * A connector whose connects take `delays[i]` ms each (the connection itself is real), counting
 * the connects started and those abandoned by the client's abort.
 */
function slowConnector(delays: number[]) {
  const seen = { dials: 0, abandoned: 0 };
  const connect = async (opts: Deno.ConnectOptions & { signal?: AbortSignal }) => {
    const delay = delays[seen.dials++] ?? 0;
    const conn = await Deno.connect({ hostname: opts.hostname, port: opts.port });
    await new Promise((r) => setTimeout(r, delay));
    if (opts.signal?.aborted) {
      seen.abandoned++;
      conn.close();
      throw opts.signal.reason;
    }
    return conn;
  };
  return { seen, connect };
}

Deno.test("a request that times out while connecting leaves the connection to the next one", async () => {
  const srv = rawServer(async (conn) => {
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
  const slow = slowConnector([150]);
  const client = new HttpClient(srv.origin, { connect: slow.connect });
  try {
    await assert.rejects(client.post("/", "", { timeout: 50 }), TimeoutError);
    assert.equal((await client.post("/", "", { timeout: 2000 })).text, "ok");
    assert.equal((await client.post("/", "", { timeout: 2000 })).text, "ok");
    assert.deepEqual(slow.seen, { dials: 1, abandoned: 0 });
    assert.equal(srv.accepted, 1);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("a connect that outlives two requests' timeouts is abandoned; the next request connects anew", async () => {
  const srv = rawServer(async (conn) => {
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
  const slow = slowConnector([300]);
  const client = new HttpClient(srv.origin, { connect: slow.connect });
  try {
    await assert.rejects(client.post("/", "", { timeout: 50 }), TimeoutError);
    await assert.rejects(client.post("/", "", { timeout: 50 }), TimeoutError);
    assert.equal((await client.post("/", "", { timeout: 2000 })).text, "ok");
    await new Promise((r) => setTimeout(r, 300)); // the abandoned connect ends
    assert.deepEqual(slow.seen, { dials: 2, abandoned: 1 });
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("closing the client stops a connect under way", async () => {
  const srv = rawServer(() => Promise.resolve());
  const slow = slowConnector([100]);
  const client = new HttpClient(srv.origin, { connect: slow.connect });
  try {
    const call = client.post("/", "", { timeout: 2000 });
    client.close();
    await assert.rejects(call, /the client is closed/);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(slow.seen, { dials: 1, abandoned: 1 });
  } finally {
    await srv.close();
  }
});

Deno.test("a connection kept idle after its request timed out, then closed by the device, is retried once", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      if (++accepted === 1) {
        conn.close(); // the device drops the idle connection
        continue;
      }
      (async () => {
        const buf = new Uint8Array(4096);
        while ((await conn.read(buf)) !== null) {
          await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        }
        conn.close();
      })().catch(() => {});
    }
  })();
  const slow = slowConnector([150]);
  const client = new HttpClient(`http://127.0.0.1:${listener.addr.port}`, {
    connect: slow.connect,
  });
  try {
    await assert.rejects(client.post("/", "", { timeout: 50 }), TimeoutError);
    await new Promise((r) => setTimeout(r, 250)); // connected, then closed by the device
    assert.equal((await client.post("/", "", { timeout: 2000 })).text, "ok");
    assert.equal(accepted, 2);
  } finally {
    client.close();
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("a connection without the runtime's resource id (public read and write) polls the same", async () => {
  let n = 0;
  const srv = rawServer(async (conn) => {
    n++;
    if (n <= 2) await conn.write(enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok${n}`));
    else {
      await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"));
      conn.close();
    }
  });
  // Only the public methods: the client falls back to them (see socket_ops.ts).
  const connect = async (opts: Deno.ConnectOptions) => {
    const conn = await Deno.connect({ hostname: opts.hostname, port: opts.port });
    return {
      read: (b: Uint8Array) => conn.read(b),
      write: (b: Uint8Array) => conn.write(b),
      close: () => conn.close(),
    } as unknown as Deno.TcpConn;
  };
  const client = new HttpClient(srv.origin, { connect });
  try {
    assert.equal((await client.post("/", "", { timeout: 2000 })).text, "ok1");
    assert.equal((await client.post("/", "", { timeout: 2000 })).text, "ok2");
    await assert.rejects(
      client.post("/", "", { timeout: 2000 }),
      /bad HTTP answer: the answer broke off after 5 of 100 bytes/,
    );
    assert.equal(srv.accepted, 1);
  } finally {
    client.close();
    await srv.close();
  }
});

Deno.test("exchangeTo hands the decoded answer to done and a failure to failed, each once, as exchange settles", async () => {
  let n = 0;
  const srv = rawServer(async (conn) => {
    if (++n === 2) return; // the second request is never answered
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
  const client = new HttpClient(srv.origin);
  const outcomes: string[] = [];
  /** One exchangeTo, its outcome recorded; resolves when it came. */
  const call = (timeout: number, signal?: AbortSignal) =>
    new Promise<void>((settled) => {
      client.exchangeTo(
        "POST",
        "/x",
        "",
        { timeout, signal },
        (f, bytes) => new TextDecoder().decode(bytes.subarray(f.bodyStart, f.bodyEnd)),
        (text) => {
          outcomes.push(`done ${text}`);
          settled();
        },
        (err) => {
          outcomes.push(`failed ${(err as Error).name}: ${(err as Error).message.slice(0, 20)}`);
          settled();
        },
      );
    });
  try {
    await call(1000);
    await call(50);
    // The late answer is skipped; the next request is answered on the kept connection.
    await call(1000);
    // An aborted signal fails before exchangeTo returns.
    const stop = new AbortController();
    stop.abort(new Error("stopped"));
    let before = true;
    client.exchangeTo(
      "POST",
      "/x",
      "",
      { timeout: 1000, signal: stop.signal },
      () => "",
      () => outcomes.push("done after an abort"),
      (err) => outcomes.push(`failed ${before ? "at once" : "later"}: ${(err as Error).message}`),
    );
    before = false;
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(outcomes, [
      "done ok",
      "failed TimeoutError: POST http://127.0.0.",
      "done ok",
      "failed at once: stopped",
    ]);
  } finally {
    client.close();
    await srv.close();
  }
});

/** Runs `fn` with uncaught errors (reportError's) collected instead of failing the test. */
async function collectingUncaught(fn: (uncaught: unknown[]) => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const listener = (e: ErrorEvent) => {
    e.preventDefault();
    uncaught.push(e.error);
  };
  globalThis.addEventListener("error", listener);
  try {
    await fn(uncaught);
  } finally {
    globalThis.removeEventListener("error", listener);
  }
}

Deno.test("exchangeTo: a failed callback that throws does not keep the other calls cancelled in that turn from theirs", async () => {
  const srv = rawServer(() => Promise.resolve()); // never answers
  // Three devices polled with one signal, as a sampler does: one abort cancels all three.
  const clients = [0, 1, 2].map(() => new HttpClient(srv.origin));
  const stop = new AbortController();
  const failed: number[] = [];
  await collectingUncaught(async (uncaught) => {
    try {
      clients.forEach((client, i) =>
        client.exchangeTo(
          "POST",
          "/x",
          "",
          { timeout: 5000, signal: stop.signal },
          () => "",
          () => {
            throw new Error("done is not expected");
          },
          () => {
            failed.push(i);
            throw new Error(`callback ${i} broke`);
          },
        )
      );
      await new Promise((r) => setTimeout(r, 50));
      stop.abort(new Error("stopped"));
      assert.deepEqual(failed.sort(), [0, 1, 2]);
      assert.deepEqual(
        uncaught.map((e) => (e as Error).message).sort(),
        ["callback 0 broke", "callback 1 broke", "callback 2 broke"],
      );
    } finally {
      clients.forEach((c) => c.close());
      await srv.close();
    }
  });
});

Deno.test("exchangeTo: a done callback that throws is reported, and the client goes on answering", async () => {
  const srv = rawServer(async (conn) => {
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
  const client = new HttpClient(srv.origin);
  await collectingUncaught(async (uncaught) => {
    try {
      await new Promise<void>((settled) =>
        client.exchangeTo("POST", "/x", "", { timeout: 2000 }, () => "x", () => {
          settled();
          throw new Error("done broke");
        }, () => settled())
      );
      assert.deepEqual(uncaught.map((e) => (e as Error).message), ["done broke"]);
      assert.equal((await client.post("/x", "", { timeout: 2000 })).text, "ok");
    } finally {
      client.close();
      await srv.close();
    }
  });
});
