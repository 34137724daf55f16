import assert from "node:assert/strict";
import { CaClient } from "./client.ts";
import type { ChannelState } from "./client_channel.ts";
import { clientOptionsFromEnv } from "./client_env.ts";
import dgram from "node:dgram";
import { decodeDatagram } from "./framing.ts";
import { CMD } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";
import { DBR, dbrOf, nativeOf } from "./dbr_types.ts";
import { FakeServer, pv } from "./fake_server.ts";
import { WriteRejected } from "../../device/errors.ts";

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("searches go out batched in few datagrams and every channel shares one circuit", async () => {
  const fake = new FakeServer();
  await fake.start();
  for (let i = 0; i < 300; i++) fake.pvs.set(`FAKE:pv${i}`, pv(DBR.DOUBLE, [i]));
  const client = fake.client();
  try {
    const chans = Array.from({ length: 300 }, (_, i) => client.channel(`FAKE:pv${i}`));
    const got = await Promise.all(chans.map((c) => c.get()));
    assert.deepEqual(got.map((g) => g.data.value[0]), Array.from({ length: 300 }, (_, i) => i));
    assert.equal(fake.connections, 1);
    assert.equal(client.circuitCount, 1);
    // 300 searches of 32 bytes fit 10 datagrams of 1,024 bytes, each led by a VERSION message
    // (retries, if the machine is slow to answer, come after).
    const first = fake.searchDatagrams.slice(0, 10).flatMap((d) =>
      decodeDatagram(d).map((r) => decodeMessage(r, "to_server"))
    );
    assert.equal(new Set(first.flatMap((m) => m.kind === "search" ? [m.name] : [])).size, 300);
    for (const d of fake.searchDatagrams) {
      assert.ok(d.length <= 1024);
      assert.equal(decodeDatagram(d)[0]!.command, CMD.VERSION);
    }
    const created = fake.received.filter((m) => m.kind === "create_chan").length;
    assert.equal(created, 300);
    assert.equal(fake.received[0]!.kind, "version");
    assert.deepEqual(fake.received.slice(1, 3).map((m) => m.kind), ["client_name", "host_name"]);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("an unanswered search is retried with back-off until a server answers", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("LATE", pv(DBR.LONG, [5]));
  fake.answer = (_name, attempt) => attempt >= 3;
  const client = fake.client({ minSearchPeriodMs: 10 });
  try {
    const ch = client.channel("LATE");
    assert.deepEqual((await ch.get()).data.value, [5]);
    assert.equal(fake.searched.filter((n) => n === "LATE").length, 3);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("access rights: refused before sending, and changes are honoured", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("RO", pv(DBR.DOUBLE, [1], false));
  const client = fake.client();
  try {
    const ch = client.channel("RO");
    await ch.connected();
    await assert.rejects(ch.put(2), WriteRejected);
    assert.throws(() => ch.startPut(2), WriteRejected);
    assert.equal(
      fake.received.filter((m) => m.kind === "write" || m.kind === "write_notify").length,
      0,
    );
    await fake.broadcast({ kind: "access_rights", cid: ch.cid, read: true, write: true });
    await until(() => ch.writeAccess, "write access");
    await ch.put(2, { notify: true });
    assert.deepEqual((await ch.get()).data.value, [2]);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("value encoding: enums by name, integers, strings, long strings into CHAR arrays", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("E", pv(DBR.ENUM, [0]));
  fake.pvs.set("L", pv(DBR.LONG, [0]));
  fake.pvs.set("S", pv(DBR.STRING, [""]));
  fake.pvs.set("C", pv(DBR.CHAR, new Array(16).fill(0)));
  const client = fake.client();
  try {
    const [e, l, s, c] = ["E", "L", "S", "C"].map((n) => client.channel(n));
    await e!.put("On", { notify: true });
    await e!.put(1, { notify: true });
    await l!.put(7, { notify: true });
    await l!.put(7.5, { notify: true });
    await s!.put("text", { notify: true });
    await c!.put("hi", { notify: true });
    const writes = fake.received.filter((m) => m.kind === "write_notify");
    assert.deepEqual(writes.map((m) => m.kind === "write_notify" && m.dbrType), [
      DBR.STRING,
      DBR.ENUM,
      DBR.LONG,
      DBR.DOUBLE,
      DBR.STRING,
      DBR.CHAR,
    ]);
    assert.deepEqual((await c!.get()).data.value, [104, 105, 0]);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("a silent server is detected by ECHO; channels search again and monitors resume", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("M", pv(DBR.DOUBLE, [1]));
  const client = fake.client({ connTimeoutMs: 250, minSearchPeriodMs: 10 });
  try {
    const ch = client.channel("M");
    const states: ChannelState[] = [];
    ch.onStateChange((s) => states.push(s));
    const seen: number[] = [];
    const mon = ch.subscribe({}, (r) => seen.push(r.data.value[0] as number));
    await until(() => seen.length === 1, "first update");
    fake.replyEcho = false;
    await until(() => states.includes("searching"), "the unresponsive circuit to be dropped");
    assert.ok(fake.received.some((m) => m.kind === "echo"));
    // The client closed the silent circuit itself; the next one must work without help.
    fake.replyEcho = true;
    await until(() => ch.state === "connected" && seen.length === 2, "reconnection");
    assert.equal(fake.received.filter((m) => m.kind === "event_add").length, 2);
    await ch.put(3, { notify: true });
    await until(() => seen.length === 3, "update on the new circuit");
    assert.deepEqual(seen, [1, 1, 3]);
    mon.close();
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("server errors and SERVER_DISCONN reach the caller", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("X", pv(DBR.DOUBLE, [1]));
  const client = fake.client({ minSearchPeriodMs: 10 });
  try {
    const ch = client.channel("X");
    await assert.rejects(ch.get({ type: 99 }), /not valid/);
    await assert.rejects(ch.get({ type: DBR.CLASS_NAME }), /bad type.*ECA_BADTYPE/);
    const states: ChannelState[] = [];
    ch.onStateChange((s) => states.push(s));
    await fake.broadcast({ kind: "server_disconn", cid: ch.cid });
    await until(() => states.includes("searching") && ch.state === "connected", "re-creation");
    assert.deepEqual((await ch.get()).data.value, [1]);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("large arrays travel with extended headers both ways", async () => {
  const fake = new FakeServer();
  await fake.start();
  const big = Array.from({ length: 100_000 }, (_, i) => i / 2);
  fake.pvs.set("BIG", pv(DBR.DOUBLE, big));
  const client = fake.client();
  try {
    const ch = client.channel("BIG");
    const r = await ch.get();
    assert.equal(r.count, 100_000);
    assert.equal(r.data.value[99_999], 99_999 / 2);
    const ctrl = await ch.get({ type: dbrOf("ctrl", DBR.DOUBLE) });
    assert.equal(ctrl.data.units, "mm");
    await ch.put(Array.from({ length: 70_000 }, () => 1), { notify: true });
    const w = fake.received.find((m) => m.kind === "write_notify");
    assert.ok(w && w.kind === "write_notify" && w.count === 70_000);
    assert.equal(nativeOf(r.type), DBR.DOUBLE);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("an empty search list fails at once with a clear message", async () => {
  const client = new CaClient({ addrList: [], autoAddrList: false, repeaterPort: 0 });
  try {
    await assert.rejects(client.channel("ANY").connected(), /EPICS_CA_ADDR_LIST is empty/);
  } finally {
    await client.close();
  }
});

Deno.test("EPICS_CA_* environment variables become client options", () => {
  const env: Record<string, string> = {
    EPICS_CA_ADDR_LIST: " 10.0.0.255  ioc1:5070 ",
    EPICS_CA_AUTO_ADDR_LIST: "no",
    EPICS_CA_SERVER_PORT: "6064",
    EPICS_CA_CONN_TMO: "2.5",
    EPICS_CA_MAX_SEARCH_PERIOD: "10",
  };
  const o = clientOptionsFromEnv((n) => env[n]);
  assert.deepEqual(o.addrList, ["10.0.0.255", "ioc1:5070"]);
  assert.equal(o.autoAddrList, false);
  assert.equal(o.serverPort, 6064);
  assert.equal(o.connTimeoutMs, 2500);
  assert.equal(o.maxSearchPeriodMs, 60_000); // libca's floor
  assert.equal(clientOptionsFromEnv(() => undefined).autoAddrList, true);
  assert.throws(() => clientOptionsFromEnv((n) => n === "EPICS_CA_SERVER_PORT" ? "x" : undefined));
});

Deno.test("a beacon forwarded by the repeater restarts the search of missing channels", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("B", pv(DBR.DOUBLE, [9]));
  fake.answer = () => false; // the server is "down" for the first searches
  // A stand-in caRepeater: confirms the registration, later forwards a beacon.
  const repeater = dgram.createSocket("udp4");
  await new Promise<void>((r) => repeater.bind(0, "127.0.0.1", r));
  let clientPort = 0;
  const registered = new Promise<void>((resolve) =>
    repeater.on("message", (msg: Uint8Array, rinfo: { port: number }) => {
      const m = decodeMessage(decodeDatagram(new Uint8Array(msg))[0]!, "to_server");
      if (m.kind !== "repeater_register") return;
      clientPort = rinfo.port;
      repeater.send(
        encodeMessage({ kind: "repeater_confirm", ip: 0x7f000001 }),
        rinfo.port,
        "127.0.0.1",
      );
      resolve();
    })
  );
  // Back-off that would wait a minute before the next search on its own.
  const client = fake.client({ repeaterPort: repeater.address().port, minSearchPeriodMs: 60_000 });
  try {
    const ch = client.channel("B");
    await registered;
    await until(() => fake.searched.length === 1, "the first search");
    fake.answer = () => true;
    repeater.send(
      encodeMessage({ kind: "beacon", minor: 13, port: fake.udpPort, beaconId: 0, ip: 0x7f000001 }),
      clientPort,
      "127.0.0.1",
    );
    await ch.connected(AbortSignal.timeout(10_000));
    assert.equal(fake.searched.length, 2);
  } finally {
    await client.close();
    await new Promise<void>((r) => repeater.close(() => r()));
    await fake.close();
  }
});

Deno.test("a reply beyond EPICS_CA_MAX_ARRAY_BYTES drops that circuit with an error naming it", async () => {
  assert.equal(clientOptionsFromEnv(() => undefined).maxArrayBytes, undefined);
  assert.equal(
    clientOptionsFromEnv((k) => k === "EPICS_CA_MAX_ARRAY_BYTES" ? "100" : undefined)
      .maxArrayBytes,
    16384,
  );
  const fake = new FakeServer();
  await fake.start();
  const big = Array.from({ length: 5000 }, (_, i) => i); // 40,000 bytes of DOUBLE
  fake.pvs.set("BIG", pv(DBR.DOUBLE, big));
  const strict = fake.client({ maxArrayBytes: 16384 });
  try {
    await assert.rejects(
      strict.channel("BIG").get(),
      (e: Error) => /exceeds the 16384-byte limit \(EPICS_CA_MAX_ARRAY_BYTES\)/.test(e.message),
    );
  } finally {
    await strict.close();
  }
  // The default takes big waveforms.
  const roomy = fake.client();
  try {
    assert.deepEqual((await roomy.channel("BIG").get()).data.value, big);
  } finally {
    await roomy.close();
    await fake.close();
  }
});
