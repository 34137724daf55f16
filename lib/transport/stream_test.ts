import assert from "node:assert/strict";
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { Backoff } from "./backoff.ts";
import type { RawConn } from "./byte_stream.ts";
import { ReopeningStream } from "./stream.ts";
import { MessageLine } from "./message.ts";
import { Cancel } from "./cancel.ts";
import { sleep } from "./abortable.ts";
import { connectTimeoutError } from "./line_errors.ts";
import { describeFailure } from "./http_failure.ts";

Deno.test("Backoff doubles from min to max and resets on success", () => {
  const b = new Backoff(100, 500);
  assert.equal(b.wait(0), 0);
  assert.equal(b.fail(1000), 100);
  assert.equal(b.wait(1050), 50);
  assert.equal(b.fail(1100), 200);
  assert.equal(b.fail(1300), 400);
  assert.equal(b.fail(1700), 500);
  assert.equal(b.fail(2200), 500);
  b.succeed();
  assert.equal(b.wait(2200), 0);
  assert.equal(b.fail(3000), 100);
});

/** An in-memory connection: what is written is echoed back. */
function echoConn(log: string[]): RawConn {
  let wake: ((n: Uint8Array | null) => void) | undefined;
  const pending: Uint8Array[] = [];
  let closed = false;
  return {
    read(buf) {
      const next = pending.shift();
      if (next) {
        buf.set(next);
        return Promise.resolve(next.length);
      }
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => {
        wake = (b) => {
          if (b === null) return resolve(null);
          buf.set(b);
          resolve(b.length);
        };
      });
    },
    write(buf) {
      const copy = buf.slice();
      if (wake) {
        const w = wake;
        wake = undefined;
        w(copy);
      } else pending.push(copy);
      return Promise.resolve(buf.length);
    },
    close() {
      log.push("close");
      closed = true;
      wake?.(null);
    },
  };
}

Deno.test("ReopeningStream retries a failed open only after the backoff", async () => {
  const log: string[] = [];
  let fails = 1;
  const s = new ReopeningStream({
    label: "mem://x",
    backoffMin: 50,
    open() {
      log.push("open");
      if (fails-- > 0) return Promise.reject(new Error("not there"));
      return Promise.resolve(echoConn(log));
    },
  });
  try {
    await assert.rejects(s.connect({ timeout: 1000 }), /mem:\/\/x: cannot open: not there/);
    await sleep(60);
    await s.write(new Uint8Array([1, 2, 3]), { timeout: 1000 });
    assert.deepStrictEqual(await s.read({ timeout: 1000 }), new Uint8Array([1, 2, 3]));
    assert.deepStrictEqual(log, ["open", "open"]);
  } finally {
    s.close();
  }
  assert.deepStrictEqual(log.at(-1), "close");
});

Deno.test("calls within the backoff fail at once with the last failure, without an attempt", async () => {
  const log: string[] = [];
  const s = new ReopeningStream({
    label: "mem://down",
    // Far longer than any deadline below: a call that waited for the backoff would time out.
    backoffMin: 60_000,
    open() {
      log.push("open");
      return Promise.reject(new Error("not there"));
    },
  });
  try {
    await assert.rejects(s.connect({ timeout: 10_000 }), /mem:\/\/down: cannot open: not there$/);
    for (const call of [() => s.read({ timeout: 10_000 }), () => s.write(new Uint8Array([1]))]) {
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof DeviceError && !(e instanceof TimeoutError));
        assert.match(e.message, /cannot open: not there \(not tried again for \d+(\.\d+)? s: /);
        assert.match((e.cause as Error).message, /not there$/);
        return true;
      });
    }
    assert.deepStrictEqual(log, ["open"]);
  } finally {
    s.close();
  }
});

Deno.test("discard() drops input that arrived unasked", async () => {
  const s = new ReopeningStream({ label: "mem://y", open: () => Promise.resolve(echoConn([])) });
  try {
    await s.write(new Uint8Array([9]));
    await sleep(5);
    s.discard();
    await s.write(new Uint8Array([7]));
    assert.deepStrictEqual(await s.read({ timeout: 1000 }), new Uint8Array([7]));
  } finally {
    s.close();
  }
});

Deno.test("listen() hands arriving bytes over (queued ones first) until unlisten(); end() says the connection ended", async () => {
  let conn: RawConn | undefined;
  const s = new ReopeningStream({
    label: "mem://l",
    open: () => Promise.resolve(conn = echoConn([])),
  });
  try {
    await s.write(new Uint8Array([1]));
    await sleep(5);
    const got: number[][] = [];
    const ended: string[] = [];
    s.listen({
      data: (bytes, n) => got.push([...bytes.subarray(0, n)]),
      end: (err) => ended.push((err as Error).message),
    });
    assert.deepStrictEqual(got, [[1]]);
    await s.write(new Uint8Array([2, 3]));
    await sleep(5);
    assert.deepStrictEqual(got, [[1], [2, 3]]);
    s.unlisten();
    await s.write(new Uint8Array([4]));
    assert.deepStrictEqual(await s.read({ timeout: 1000 }), new Uint8Array([4]));
    assert.deepStrictEqual(got, [[1], [2, 3]]);
    s.listen({
      data: (bytes, n) => got.push([...bytes.subarray(0, n)]),
      end: (err) => ended.push(String(err)),
    });
    conn!.close(); // the far end hangs up: the pump reads the end of the stream
    await sleep(5);
    assert.equal(ended.length, 1);
    assert.match(ended[0]!, /closed by the other end/);
  } finally {
    s.close();
  }
});

Deno.test("discard() flushes the OS input only when stale input was queued", async () => {
  let flushes = 0;
  const s = new ReopeningStream({
    label: "mem://f",
    open: () => Promise.resolve({ ...echoConn([]), flushInput: () => void flushes++ }),
  });
  try {
    await s.write(new Uint8Array([1]));
    assert.deepStrictEqual(await s.read({ timeout: 1000 }), new Uint8Array([1]));
    s.discard();
    assert.equal(flushes, 0);
    await s.write(new Uint8Array([2]));
    await sleep(5);
    s.discard();
    assert.equal(flushes, 1);
  } finally {
    s.close();
  }
});

Deno.test("a write the connection takes in parts is finished; a write that hangs is cut by its deadline", async () => {
  const taken: number[][] = [];
  let hang = false;
  // A hung write fails once its connection is closed, as a socket's does.
  let closed: (() => void) | undefined;
  const conn: RawConn = {
    read: () => new Promise(() => {}),
    write(buf) {
      if (hang) return new Promise((_, reject) => closed = () => reject(new Error("closed")));
      taken.push([...buf.subarray(0, 2)]);
      return Promise.resolve(Math.min(2, buf.length));
    },
    close: () => closed?.(),
  };
  const s = new ReopeningStream({ label: "mem://w", open: () => Promise.resolve(conn) });
  try {
    await s.connect();
    await s.write(new Uint8Array([1, 2, 3, 4, 5]), { timeout: 1000 });
    assert.deepStrictEqual(taken, [[1, 2], [3, 4], [5]]);
    hang = true;
    await assert.rejects(s.write(new Uint8Array([6]), { timeout: 20 }), TimeoutError);
    // The connection under the hung write was closed: the next write opens another.
    assert.equal(s.connected, false);
    hang = false;
    await s.write(new Uint8Array([7]), { timeout: 1000 });
    assert.deepStrictEqual(taken.at(-1), [7]);
    assert.equal(s.opens, 2);
  } finally {
    s.close();
  }
});

Deno.test("writeThen: the write's end is told, not returned: whole, in parts, or failed", async () => {
  const taken: number[][] = [];
  let fail = false;
  const conn: RawConn = {
    read: () => new Promise(() => {}),
    write(buf) {
      if (fail) return Promise.reject(new Error("broken pipe"));
      taken.push([...buf.subarray(0, 2)]);
      return Promise.resolve(Math.min(2, buf.length));
    },
    close: () => {},
  };
  const s = new ReopeningStream({ label: "mem://w", open: () => Promise.resolve(conn) });
  const ended = (bytes: number[]) =>
    new Promise<unknown>((resolve) =>
      s.writeThen(new Uint8Array(bytes), { cancel: new Cancel() }, {
        written: () => resolve("written"),
        failed: (err) => resolve(err),
      })
    );
  try {
    // Not connected yet: the long way, then told.
    assert.equal(await ended([1, 2]), "written");
    assert.equal(await ended([3, 4, 5]), "written");
    assert.deepStrictEqual(taken, [[1, 2], [3, 4], [5]]);
    fail = true;
    const err = await ended([6]);
    assert.ok(err instanceof DeviceError && /broken pipe/.test(err.message), String(err));
    assert.equal(s.connected, false);
  } finally {
    s.close();
  }
});

Deno.test("an opener that throws synchronously is retried on the next call", async () => {
  let fails = 1;
  const s = new ReopeningStream({
    label: "mem://z",
    backoffMin: 1,
    open() {
      if (fails-- > 0) throw new Error("no such port");
      return Promise.resolve(echoConn([]));
    },
  });
  try {
    await assert.rejects(s.connect({ timeout: 1000 }), /no such port/);
    await sleep(5);
    await s.connect({ timeout: 1000 });
    assert.equal(s.connected, true);
  } finally {
    s.close();
  }
});

Deno.test("a call whose deadline fires while connecting says the connection got no answer", async () => {
  // a host that drops the connection request: the open never completes until it is aborted
  const s = new ReopeningStream({
    label: "tcp://10.0.0.5:5025",
    open: (signal) =>
      new Promise<RawConn>((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      ),
  });
  for (const call of [() => s.read({ timeout: 40 }), () => s.connect({ timeout: 40 })]) {
    await assert.rejects(call(), (e) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(
        e.message,
        /^connect to tcp:\/\/10\.0\.0\.5:5025: no answer within 40 ms; check that 10\.0\.0\.5:5025 is /,
      );
      return true;
    });
  }
  s.close();
});

Deno.test("a connect timeout names the address the stream connects to, not one read off its label", async () => {
  // a Modbus gateway's label carries its own scheme; a label need not be a URL at all
  for (const label of ["modbus://gw.lab:502", "the gauge's line"]) {
    const s = new ReopeningStream({
      label,
      address: "10.0.0.5:502",
      open: (signal) =>
        new Promise<RawConn>((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason))
        ),
    });
    await assert.rejects(s.connect({ timeout: 20 }), (e) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /; check that 10\.0\.0\.5:502 is powered, /, label);
      assert.ok(e.message.startsWith(`connect to ${label}: no answer within 20 ms`), e.message);
      return true;
    });
    // and so does a message line's exchange on it that timed out before the connection opened
    const line = new MessageLine(s, { window: 1 });
    await assert.rejects(line.query("*IDN?", { timeout: 20 }), (e) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /; check that 10\.0\.0\.5:502 is powered, /, label);
      return true;
    });
    line.close();
  }
});

Deno.test("a line's connect timeout reads as tcp.ts's own connect timeout", () => {
  const line = connectTimeoutError("tcp://10.0.0.5:5025", 2000, "scope");
  const tcp = describeFailure(
    new Error("aborted"),
    "connect to tcp://10.0.0.5:5025",
    "10.0.0.5:5025",
    2000,
    "scope",
    true,
  );
  assert.ok(line instanceof TimeoutError && tcp instanceof TimeoutError);
  assert.equal(line.message, tcp.message);
  assert.equal(line.device, "scope");
});
