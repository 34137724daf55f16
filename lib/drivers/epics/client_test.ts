import assert from "node:assert/strict";
import dgram from "node:dgram";
import { CaClient, type ChannelState, clientOptionsFromEnv } from "./client.ts";
import {
  type CaMessage,
  CMD,
  decodeDatagram,
  decodeMessage,
  encodeMessage,
  MessageDecoder,
} from "./protocol.ts";
import { DBR, type DbrData, dbrOf, decodeDbr, encodeDbr, nativeOf } from "./dbr.ts";
import { ECA } from "./eca.ts";
import { WriteRejected } from "../../device/errors.ts";

interface FakePv {
  native: number;
  data: DbrData;
  write: boolean;
}

/** A minimal CA server built on protocol.ts, scriptable from the tests. */
class FakeServer {
  readonly pvs = new Map<string, FakePv>();
  readonly searchDatagrams: Uint8Array[] = [];
  readonly searched: string[] = [];
  readonly received: CaMessage[] = [];
  /** Return false to leave a search unanswered. */
  answer: (name: string, attempt: number) => boolean = () => true;
  replyEcho = true;
  connections = 0;
  #udp = dgram.createSocket("udp4");
  #tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  #conns = new Set<Deno.Conn>();
  #subs = new Map<number, { conn: Deno.Conn; name: string; type: number }>();
  #tasks: Promise<void>[] = [];
  udpPort = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.#udp.bind(0, "127.0.0.1", r));
    this.udpPort = this.#udp.address().port;
    this.#udp.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
      const bytes = new Uint8Array(msg);
      this.searchDatagrams.push(bytes);
      for (const raw of decodeDatagram(bytes)) {
        const m = decodeMessage(raw, "to_server");
        if (m.kind !== "search") continue;
        this.searched.push(m.name);
        const attempt = this.searched.filter((n) => n === m.name).length;
        if (!this.pvs.has(m.name) || !this.answer(m.name, attempt)) continue;
        const port = (this.#tcp.addr as Deno.NetAddr).port;
        const reply = encodeMessage({
          kind: "search_resp",
          port,
          ip: 0xffffffff,
          cid: m.cid,
          minor: 13,
        });
        this.#udp.send(reply, rinfo.port, rinfo.address);
      }
    });
    this.#tasks.push(this.#accept());
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#tcp) {
      this.connections++;
      this.#conns.add(conn);
      this.#tasks.push(this.#serve(conn));
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const send = (m: CaMessage) => conn.write(encodeMessage(m)).catch(() => 0);
    await send({ kind: "version", priority: 0, minor: 13 });
    const decoder = new MessageDecoder();
    const names: string[] = [];
    try {
      for await (const chunk of conn.readable) {
        for (const raw of decoder.push(chunk)) {
          const m = decodeMessage(raw, "to_server");
          this.received.push(m);
          await this.#handle(conn, m, names, send);
        }
      }
    } catch {
      // connection dropped by a test
    }
    this.#conns.delete(conn);
  }

  async #handle(
    conn: Deno.Conn,
    m: CaMessage,
    names: string[],
    send: (m: CaMessage) => Promise<number>,
  ): Promise<void> {
    const pvOf = (sid: number) => this.pvs.get(names[sid] ?? "");
    switch (m.kind) {
      case "create_chan": {
        const pv = this.pvs.get(m.name);
        if (!pv) return void await send({ kind: "create_ch_fail", cid: m.cid });
        names.push(m.name);
        await send({ kind: "access_rights", cid: m.cid, read: true, write: pv.write });
        await send({
          kind: "create_chan_resp",
          nativeType: pv.native,
          nativeCount: pv.data.value.length,
          cid: m.cid,
          sid: names.length - 1,
        });
        return;
      }
      case "read_notify": {
        const pv = pvOf(m.sid)!;
        if (m.dbrType === DBR.CLASS_NAME) {
          return void await send({
            kind: "error",
            cid: 0,
            status: ECA.BADTYPE,
            request: {
              command: CMD.READ_NOTIFY,
              payloadSize: 0,
              dataType: m.dbrType,
              dataCount: 1,
              p1: m.sid,
              p2: m.ioid,
            },
            message: "bad type",
          });
        }
        return void await send({
          kind: "read_notify_resp",
          dbrType: m.dbrType,
          count: pv.data.value.length,
          status: ECA.NORMAL,
          ioid: m.ioid,
          payload: encodeDbr(m.dbrType, pv.data),
        });
      }
      case "write_notify":
      case "write": {
        const name = names[m.sid]!;
        const pv = this.pvs.get(name)!;
        pv.data = { ...pv.data, value: decodeDbr(m.dbrType, m.count, m.payload).value };
        if (m.kind === "write_notify") {
          await send({
            kind: "write_notify_resp",
            dbrType: m.dbrType,
            count: m.count,
            status: ECA.NORMAL,
            ioid: m.ioid,
          });
        }
        for (const [subid, s] of this.#subs) if (s.name === name) await this.#post(subid);
        return;
      }
      case "event_add":
        this.#subs.set(m.subid, { conn, name: names[m.sid]!, type: m.dbrType });
        return void await this.#post(m.subid);
      case "event_cancel":
        this.#subs.delete(m.subid);
        return void await send({
          kind: "event_add_resp",
          dbrType: m.dbrType,
          count: m.count,
          status: ECA.NORMAL,
          subid: m.subid,
          payload: new Uint8Array(),
        });
      case "echo":
        if (this.replyEcho) await send({ kind: "echo" });
        return;
      case "clear_channel":
        return void await send(m);
      default:
        return;
    }
  }

  async #post(subid: number): Promise<void> {
    const s = this.#subs.get(subid);
    if (!s) return;
    const pv = this.pvs.get(s.name)!;
    await s.conn.write(encodeMessage({
      kind: "event_add_resp",
      dbrType: s.type,
      count: pv.data.value.length,
      status: ECA.NORMAL,
      subid,
      payload: encodeDbr(s.type, pv.data),
    })).catch(() => 0);
  }

  /** Sends a message to every client connection. */
  async broadcast(m: CaMessage): Promise<void> {
    for (const c of this.#conns) await c.write(encodeMessage(m)).catch(() => 0);
  }

  /** Drops every client connection (a server crash, as the client sees it). */
  dropAll(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#subs.clear();
  }

  client(extra: ConstructorParameters<typeof CaClient>[0] = {}): CaClient {
    return new CaClient({
      addrList: ["127.0.0.1"],
      autoAddrList: false,
      serverPort: this.udpPort,
      repeaterPort: 0,
      ...extra,
    });
  }

  async close(): Promise<void> {
    this.dropAll();
    this.#tcp.close();
    await new Promise<void>((r) => this.#udp.close(() => r()));
    await Promise.allSettled(this.#tasks);
  }
}

function pv(native: number, value: number[] | string[], write = true): FakePv {
  return { native, data: { value, status: 0, severity: 0, units: "mm", precision: 2 }, write };
}

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
  const client = fake.client({ connTimeoutMs: 100, minSearchPeriodMs: 10 });
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
    fake.replyEcho = true;
    fake.dropAll();
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
