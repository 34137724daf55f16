import assert from "node:assert/strict";
import { UsageError } from "../lib/device/errors.ts";
import { MemorySink } from "../lib/output/stdout.ts";
import { parseQueryArgs, runQuery } from "./query.ts";
import { resolveQueryLine } from "../lib/lab/query_target.ts";

Deno.test("parseQueryArgs: defaults, terminations by name, durations", () => {
  const o = parseQueryArgs(["tcp://h:5025", "*IDN?", "SYST:ERR?"]);
  assert.equal(o.target, "tcp://h:5025");
  assert.deepEqual(o.commands, ["*IDN?", "SYST:ERR?"]);
  assert.equal(o.timeout, 2000);
  assert.equal(o.readTerm, undefined);
  const t = parseQueryArgs(["x", "--term", "CRLF", "--write-term", "\\r", "-t", "500ms", "A"]);
  assert.equal(t.readTerm, "\r\n");
  assert.equal(t.writeTerm, "\r");
  assert.equal(t.timeout, 500);
  const b = parseQueryArgs(["x", "-b", "--datatype", "i16", "--little-endian", "CURV?"]);
  assert.equal(b.binary, true);
  assert.equal(b.datatype, "i16");
  assert.equal(b.littleEndian, true);
  assert.equal(parseQueryArgs(["x", "--window", "8", "A"]).window, 8);
  assert.equal(parseQueryArgs(["x", "A"]).window, undefined);
  assert.throws(
    () => parseQueryArgs(["--demo", "dmm", "*IDN?"]),
    (e) => e instanceof UsageError && /^--demo has no instrument for query/.test(e.message),
  );
  for (
    const args of [
      [],
      ["x", "--window", "0", "A"],
      ["x", "--window", "many", "A"],
      ["x", "--window", "65", "A"],
      ["x", "--term", "\\q", "A"],
      ["x", "--encoding", "ebcdic", "A"],
      ["x", "--write", "--binary", "A"],
      ["x", "--datatype", "f32", "A"],
    ]
  ) {
    assert.throws(() => parseQueryArgs(args), UsageError, args.join(" "));
  }
});

Deno.test("parseQueryArgs: a misspelt termination name is a usage error with a suggestion", () => {
  assert.throws(
    () => parseQueryArgs(["x", "--term", "CRL", "A"]),
    (e) =>
      e instanceof UsageError &&
      // CRLF begins with it; CR is as close a typo
      /^--term: unknown termination name "CRL" \(did you mean "CRLF" or "CR"\?\)/.test(e.message),
  );
  assert.throws(() => parseQueryArgs(["x", "--read-term", "ETX", "A"]), UsageError);
  // letters stay possible as escapes
  assert.equal(parseQueryArgs(["x", "--term", "\\x45\\x4e\\x44", "A"]).readTerm, "END");
});

Deno.test("resolveQueryLine: plain transports as they are, scpi:// and ?instrument= via definitions", async () => {
  assert.deepEqual(await resolveQueryLine("tcp://127.0.0.1:5025"), {
    address: "tcp://127.0.0.1:5025",
    options: {},
    note: undefined,
  });
  const scpi = await resolveQueryLine("scpi://127.0.0.1");
  assert.equal(scpi.address, "tcp://127.0.0.1:5025");
  assert.equal(scpi.instrument, "scpi");
  const lake = await resolveQueryLine("tcp://127.0.0.1?instrument=lakeshore-336");
  assert.equal(lake.address, "tcp://127.0.0.1:7777");
  assert.equal(lake.options.readTermination, "\r\n");
  const asrl = await resolveQueryLine("ASRL1::INSTR");
  assert.match(asrl.note ?? "", /\/dev\/ttyS0/);
  await assert.rejects(resolveQueryLine("ca://X:Y"), /not ca:\/\//);
});

Deno.test("runQuery writes each answer as a line to its sink", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(256);
    let text = "";
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      while (text.includes("\n")) {
        const cmd = text.slice(0, text.indexOf("\n"));
        text = text.slice(text.indexOf("\n") + 1);
        await conn.write(new TextEncoder().encode(`echo ${cmd}\r\n`));
      }
    }
    conn.close();
  })();
  const sink = new MemorySink();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    assert.equal(await runQuery([`tcp://127.0.0.1:${port}`, "A?", "B?"], sink), 0);
    assert.equal(sink.text, "echo A?\necho B?\n");
  } finally {
    listener.close();
    await serving;
  }
});
