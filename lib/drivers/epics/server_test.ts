import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import "../mod.ts";
import { parseConfig } from "../../config/load.ts";
import { Lab } from "../../lab/lab.ts";
import { DBR, decodeDbr } from "./dbr.ts";
import { ECA } from "./eca.ts";
import {
  type CaMessage,
  concatBytes,
  DBE,
  decodeDatagram,
  decodeMessage,
  encodeMessage,
  MessageDecoder,
} from "./protocol.ts";
import { type CaServer, startCaServer } from "./server.ts";

/** A bare CA client on the shared protocol module, to see exactly what the server sends. */
class RawClient {
  readonly #inbox: CaMessage[] = [];
  #wake: (() => void) | undefined;
  readonly #reading: Promise<void>;

  private constructor(readonly conn: Deno.TcpConn) {
    this.#reading = this.#read();
  }

  static async connect(port: number): Promise<RawClient> {
    const c = new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
    c.send(
      { kind: "version", priority: 0, minor: 13 },
      { kind: "client_name", name: "tester" },
      { kind: "host_name", name: "localhost" },
    );
    return c;
  }

  async #read(): Promise<void> {
    const decoder = new MessageDecoder();
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        for (const raw of decoder.push(buf.slice(0, n))) {
          this.#inbox.push(decodeMessage(raw, "to_client"));
        }
        this.#wake?.();
      }
    } catch { /* closed */ }
    this.#wake?.();
  }

  send(...msgs: CaMessage[]): void {
    const bytes = concatBytes(msgs.map(encodeMessage));
    this.conn.write(bytes);
  }

  /** Waits for (and removes) the first message matching `pred`. */
  async next<K extends CaMessage["kind"]>(
    kind: K,
    pred: (m: Extract<CaMessage, { kind: K }>) => boolean = () => true,
  ): Promise<Extract<CaMessage, { kind: K }>> {
    const deadline = Date.now() + 5000;
    while (true) {
      const i = this.#inbox.findIndex((m) =>
        m.kind === kind && pred(m as Extract<CaMessage, { kind: K }>)
      );
      if (i >= 0) return this.#inbox.splice(i, 1)[0] as Extract<CaMessage, { kind: K }>;
      if (Date.now() > deadline) throw new Error(`no ${kind} message within 5 s`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, 100);
      });
      clearTimeout(timer);
    }
  }

  /** Messages of `kind` received so far (removed). */
  drain(kind: CaMessage["kind"]): CaMessage[] {
    const out = this.#inbox.filter((m) => m.kind === kind);
    for (const m of out) this.#inbox.splice(this.#inbox.indexOf(m), 1);
    return out;
  }

  /** Creates a channel; returns its sid, write access and native type. */
  async open(cid: number, name: string) {
    this.send({ kind: "create_chan", cid, minor: 13, name });
    const rights = await this.next("access_rights", (m) => m.cid === cid);
    const resp = await this.next("create_chan_resp", (m) => m.cid === cid);
    return { sid: resp.sid, write: rights.write, native: resp.nativeType, count: resp.nativeCount };
  }

  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}

async function withServer(fn: (ca: CaServer, lab: Lab) => Promise<void>): Promise<void> {
  const lab = await Lab.open(parseConfig(`
[devices.motor]
address = "sim://motor"
[devices.thermo]
address = "sim://thermo"
[devices.dmm]
address = "sim://dmm"
`));
  const ca = await startCaServer(lab, {
    prefix: "T:",
    port: 0,
    interfaces: ["127.0.0.1"],
    autoBeacon: false,
  });
  try {
    await fn(ca, lab);
  } finally {
    await ca.close();
    await lab.close();
  }
}

function udpSearch(port: number, names: string[]): Promise<CaMessage[]> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    const timer = setTimeout(() => {
      s.close();
      reject(new Error("no search reply"));
    }, 3000);
    s.on("message", (msg: Buffer) => {
      clearTimeout(timer);
      s.close();
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
      resolve(decodeDatagram(bytes).map((r) => decodeMessage(r, "to_client")));
    });
    const req = concatBytes([
      encodeMessage({ kind: "version", priority: 1, minor: 13, sequence: 42 }),
      ...names.map((name, i) =>
        encodeMessage({ kind: "search", reply: true, minor: 13, cid: i + 1, name })
      ),
    ]);
    s.send(req, port, "127.0.0.1");
  });
}

Deno.test("CA server names a PV for every attr and answers UDP searches for them only", async () => {
  await withServer(async (ca) => {
    assert.ok(ca.names().includes("T:motor:position"));
    assert.ok(ca.names().includes("T:dmm:range"));
    assert.equal(ca.names().length, 12);
    const replies = await udpSearch(ca.port, ["T:motor:position", "T:nope", "T:thermo:heater"]);
    assert.deepEqual(replies[0], { kind: "version", priority: 1, minor: 13, sequence: 42 });
    const found = replies.filter((m) => m.kind === "search_resp");
    assert.deepEqual(found.map((m) => m.kind === "search_resp" && [m.cid, m.port]), [
      [1, ca.tcpPort],
      [3, ca.tcpPort],
    ]);
    const missing = replies.filter((m) => m.kind === "not_found");
    assert.deepEqual(missing.map((m) => m.kind === "not_found" && m.cid), [2]);
  });
});

Deno.test("CA server creates channels with native types and access rights", async () => {
  await withServer(async (ca) => {
    const c = await RawClient.connect(ca.tcpPort);
    try {
      const greeting = await c.next("version");
      assert.equal(greeting.minor, 13);
      const pos = await c.open(1, "T:motor:position");
      assert.deepEqual([pos.native, pos.count, pos.write], [DBR.DOUBLE, 1, true]);
      const rb = await c.open(2, "T:motor:readback");
      assert.equal(rb.write, false);
      const range = await c.open(3, "T:dmm:range.VAL");
      assert.equal(range.native, DBR.ENUM);
      c.send({ kind: "create_chan", cid: 4, minor: 13, name: "T:motor:nothing" });
      assert.equal((await c.next("create_ch_fail")).cid, 4);
      c.send({ kind: "echo" });
      await c.next("echo");
      c.send({ kind: "clear_channel", sid: rb.sid, cid: 2 });
      assert.deepEqual(await c.next("clear_channel"), {
        kind: "clear_channel",
        sid: rb.sid,
        cid: 2,
      });
      c.send({ kind: "read_notify", dbrType: DBR.DOUBLE, count: 1, sid: rb.sid, ioid: 9 });
      const err = await c.next("error");
      assert.equal(err.status, ECA.BADCHID);
      assert.equal(ca.stats().channels, 2);
    } finally {
      await c.close();
    }
  });
});

Deno.test("CA server reads values with metadata and enum states", async () => {
  await withServer(async (ca) => {
    const c = await RawClient.connect(ca.tcpPort);
    try {
      const sp = await c.open(1, "T:thermo:setpoint");
      c.send({ kind: "read_notify", dbrType: DBR.CTRL_DOUBLE, count: 1, sid: sp.sid, ioid: 1 });
      const r = await c.next("read_notify_resp", (m) => m.ioid === 1);
      assert.equal(r.status, ECA.NORMAL);
      const d = decodeDbr(DBR.CTRL_DOUBLE, 1, r.payload);
      assert.deepEqual(
        [d.value, d.units, d.precision, d.lowerCtrlLimit, d.upperCtrlLimit],
        [[25], "°C", 2, -20, 150],
      );
      // A non-status attr (not in the default reading) is read from the device on demand.
      const range = await c.open(2, "T:dmm:range");
      c.send({ kind: "read_notify", dbrType: DBR.STRING, count: 1, sid: range.sid, ioid: 2 });
      const s = await c.next("read_notify_resp", (m) => m.ioid === 2);
      assert.deepEqual(decodeDbr(DBR.STRING, 1, s.payload).value, ["AUTO"]);
      c.send({ kind: "read_notify", dbrType: DBR.CTRL_ENUM, count: 1, sid: range.sid, ioid: 3 });
      const e = await c.next("read_notify_resp", (m) => m.ioid === 3);
      assert.equal(decodeDbr(DBR.CTRL_ENUM, 1, e.payload).enumStrings?.[0], "AUTO");
    } finally {
      await c.close();
    }
  });
});

Deno.test("CA server writes through the device manager with its validation", async () => {
  await withServer(async (ca, lab) => {
    const c = await RawClient.connect(ca.tcpPort);
    try {
      const sp = await c.open(1, "T:thermo:setpoint");
      const put = (ioid: number, v: number) =>
        c.send({
          kind: "write_notify",
          dbrType: DBR.DOUBLE,
          count: 1,
          sid: sp.sid,
          ioid,
          payload: new Uint8Array(new Float64Array([v]).buffer).reverse(),
        });
      put(1, 40);
      assert.equal((await c.next("write_notify_resp", (m) => m.ioid === 1)).status, ECA.NORMAL);
      assert.equal(lab.get("thermo").last?.values.setpoint, 40);
      put(2, 1000); // above the attr's max of 150
      assert.equal((await c.next("write_notify_resp", (m) => m.ioid === 2)).status, ECA.PUTFAIL);
      assert.equal(lab.get("thermo").last?.values.setpoint, 40);
      // A plain WRITE that fails is reported with an ERROR carrying the reason.
      c.send({
        kind: "write",
        dbrType: DBR.STRING,
        count: 1,
        sid: sp.sid,
        ioid: 3,
        payload: new TextEncoder().encode("hot\0\0\0\0\0"),
      });
      const err = await c.next("error");
      assert.equal(err.status, ECA.PUTFAIL);
      assert.match(err.message, /expected a number, got "hot"/);
      const rb = await c.open(2, "T:thermo:temperature");
      c.send({
        kind: "write_notify",
        dbrType: DBR.DOUBLE,
        count: 1,
        sid: rb.sid,
        ioid: 4,
        payload: new Uint8Array(8),
      });
      assert.equal(
        (await c.next("write_notify_resp", (m) => m.ioid === 4)).status,
        ECA.NOWTACCESS,
      );
      // Writing an enum by state string.
      const range = await c.open(3, "T:dmm:range");
      c.send({
        kind: "write_notify",
        dbrType: DBR.STRING,
        count: 1,
        sid: range.sid,
        ioid: 5,
        payload: new TextEncoder().encode("10 V\0\0\0\0"),
      });
      assert.equal((await c.next("write_notify_resp", (m) => m.ioid === 5)).status, ECA.NORMAL);
      assert.equal(await lab.get("dmm").read(["range"]).then((v) => v.range), "10 V");
    } finally {
      await c.close();
    }
  });
});

Deno.test("CA server monitors: updates from readings, coalesced while events are off, cancel", async () => {
  await withServer(async (ca, lab) => {
    const c = await RawClient.connect(ca.tcpPort);
    const thermo = lab.get("thermo");
    try {
      await thermo.sample();
      const t = await c.open(1, "T:thermo:temperature");
      c.send({
        kind: "event_add",
        dbrType: DBR.TIME_DOUBLE,
        count: 1,
        sid: t.sid,
        subid: 7,
        mask: DBE.VALUE | DBE.ALARM,
      });
      const first = await c.next("event_add_resp", (m) => m.subid === 7);
      assert.deepEqual(
        decodeDbr(DBR.TIME_DOUBLE, 1, first.payload).value,
        [thermo.last!.values.temperature],
      );
      // Push readings straight through the manager (what the sampler does).
      const publish = (v: number) =>
        thermo.publish({ t: Date.now() / 1000, device: "thermo", values: { temperature: v } });
      publish(30);
      const upd = await c.next("event_add_resp", (m) => m.subid === 7);
      assert.deepEqual(decodeDbr(DBR.TIME_DOUBLE, 1, upd.payload).value, [30]);
      publish(30); // unchanged: no DBE_VALUE event
      // The echo's reply proves the server took EVENTS_OFF before the readings below.
      c.send({ kind: "events_off" }, { kind: "echo" });
      await c.next("echo");
      publish(31);
      publish(32);
      publish(33);
      c.send({ kind: "events_on" });
      const last = await c.next("event_add_resp", (m) => m.subid === 7);
      assert.deepEqual(decodeDbr(DBR.TIME_DOUBLE, 1, last.payload).value, [33]);
      assert.ok(ca.stats().updatesCoalesced >= 2);
      // Alarms from outside reach DBE_ALARM monitors.
      ca.setAlarm("thermo", "temperature", 2, 3);
      const alarmed = decodeDbr(
        DBR.TIME_DOUBLE,
        1,
        (await c.next("event_add_resp", (m) => m.subid === 7)).payload,
      );
      assert.deepEqual([alarmed.severity, alarmed.status], [2, 3]);
      ca.alarmEvent({
        t: 0,
        name: "x",
        kind: "error",
        device: "thermo",
        severity: "invalid",
        state: "active",
        value: null,
        message: "down",
      });
      const invalid = decodeDbr(
        DBR.TIME_DOUBLE,
        1,
        (await c.next("event_add_resp", (m) => m.subid === 7)).payload,
      );
      assert.deepEqual([invalid.severity, invalid.status], [3, 9]);
      ca.setAlarm("thermo", "temperature", 0, 0);
      ca.alarmEvent({
        t: 0,
        name: "x",
        kind: "error",
        device: "thermo",
        severity: "invalid",
        state: "cleared",
        value: null,
        message: "up",
      });
      // A failed read raises INVALID/READ; the next good reading clears it.
      thermo.publish({ t: Date.now() / 1000, device: "thermo", values: {}, error: "timeout" });
      const failed = async () => {
        while (true) {
          const m = await c.next("event_add_resp", (m) => m.subid === 7);
          const d = decodeDbr(DBR.TIME_DOUBLE, 1, m.payload);
          if (d.severity === 3) return d;
        }
      };
      assert.deepEqual((await failed()).status, 1);
      c.send({ kind: "event_cancel", dbrType: DBR.TIME_DOUBLE, count: 1, sid: t.sid, subid: 7 });
      const bye = await c.next("event_add_resp", (m) => m.subid === 7 && m.payload.length === 0);
      assert.equal(bye.status, ECA.NORMAL);
      assert.equal(ca.stats().subscriptions, 0);
    } finally {
      await c.close();
    }
  });
});
