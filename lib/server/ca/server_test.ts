import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import "../../drivers/mod.ts";
import { parseConfig } from "../../config/load.ts";
import { Lab } from "../../lab/lab.ts";
import { decodeDbr } from "../../drivers/epics/dbr.ts";
import { DBR } from "../../drivers/epics/dbr_types.ts";
import { ECA } from "../../drivers/epics/eca.ts";
import {
  concatBytes,
  decodeDatagram,
  encodeHeader,
  EXTENDED_HEADER_SIZE,
} from "../../drivers/epics/framing.ts";
import { type CaMessage, DBE } from "../../drivers/epics/messages.ts";
import { decodeMessage, encodeMessage } from "../../drivers/epics/protocol.ts";
import { type CaServer, type CaServerOptions, startCaServer } from "./server.ts";
import { RawClient } from "./test_client.ts";
import "./test_device.ts";
import { SIM_TRIO, withCaLab } from "./test_lab.ts";

function withServer(
  fn: (ca: CaServer, lab: Lab) => Promise<void>,
  extra = "",
  options: CaServerOptions = { interfaces: ["127.0.0.1"] },
): Promise<void> {
  return withCaLab(extra + SIM_TRIO, { prefix: "T:", ...options }, fn);
}

/** Runs `fn` with a raw CA client connected to a fresh server (see `withServer`), closed after. */
function withClient(
  fn: (c: RawClient, lab: Lab, ca: CaServer) => Promise<void>,
  extra = "",
): Promise<void> {
  return withServer(async (ca, lab) => {
    const c = await RawClient.connect(ca.tcpPort);
    try {
      await fn(c, lab, ca);
    } finally {
      await c.close();
    }
  }, extra);
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
    assert.equal(ca.pvs.size, 12);
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
  await withClient(async (c, _lab, ca) => {
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
  });
});

Deno.test("CA server reads values with metadata and enum states", async () => {
  await withClient(async (c) => {
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
  });
});

Deno.test("CA server writes through the device manager with its validation", async () => {
  await withClient(async (c, lab) => {
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
    c.writeString(range.sid, 5, "10 V");
    assert.equal((await c.next("write_notify_resp", (m) => m.ioid === 5)).status, ECA.NORMAL);
    assert.equal(await lab.get("dmm").read(["range"]).then((v) => v.range), "10 V");
  });
});

Deno.test("CA server monitors: updates from readings, coalesced while events are off, cancel", async () => {
  await withClient(async (c, lab, ca) => {
    const thermo = lab.get("thermo");
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
    // The monitor's next update, decoded.
    const update = async () =>
      decodeDbr(DBR.TIME_DOUBLE, 1, (await c.next("event_add_resp", (m) => m.subid === 7)).payload);
    assert.deepEqual((await update()).value, [thermo.last!.values.temperature]);
    // Push readings straight through the manager (what the sampler does).
    const publish = (v: number) =>
      thermo.publish({ t: Date.now() / 1000, device: "thermo", values: { temperature: v } });
    publish(30);
    assert.deepEqual((await update()).value, [30]);
    publish(30); // unchanged: no DBE_VALUE event
    // The echo's reply proves the server took EVENTS_OFF before the readings below.
    c.send({ kind: "events_off" }, { kind: "echo" });
    await c.next("echo");
    publish(31);
    publish(32);
    publish(33);
    c.send({ kind: "events_on" });
    assert.deepEqual((await update()).value, [33]);
    assert.ok(ca.stats().updatesCoalesced >= 2);
    // Alarms from outside reach DBE_ALARM monitors.
    ca.setAlarm("thermo", "temperature", 2, 3);
    const alarmed = await update();
    assert.deepEqual([alarmed.severity, alarmed.status], [2, 3]);
    // thermo's health alarm (its reads failing), raised and cleared
    const healthAlarm = (state: "active" | "cleared", message: string) =>
      ca.alarmEvent({
        t: 0,
        name: "x",
        kind: "error",
        device: "thermo",
        severity: "invalid",
        state,
        value: null,
        message,
      });
    healthAlarm("active", "down");
    const invalid = await update();
    assert.deepEqual([invalid.severity, invalid.status], [3, 9]);
    ca.setAlarm("thermo", "temperature", 0, 0);
    healthAlarm("cleared", "up");
    // A failed read raises INVALID/READ; the next good reading clears it.
    thermo.publish({ t: Date.now() / 1000, device: "thermo", values: {}, error: "timeout" });
    const failed = async () => {
      while (true) {
        const d = await update();
        if (d.severity === 3) return d;
      }
    };
    assert.deepEqual((await failed()).status, 1);
    c.send({ kind: "event_cancel", dbrType: DBR.TIME_DOUBLE, count: 1, sid: t.sid, subid: 7 });
    const bye = await c.next("event_add_resp", (m) => m.subid === 7 && m.payload.length === 0);
    assert.equal(bye.status, ECA.NORMAL);
    assert.equal(ca.stats().subscriptions, 0);
  });
});

const FAKE = `[devices.fake]\naddress = "catypes://x?n=5"\ninterval = "100ms"\n`;

const f64 = (values: number[]) => {
  const out = new Uint8Array(8 * values.length);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setFloat64(8 * i, x));
  return out;
};

Deno.test("CA server serves arrays, integers, strings and long enums", async () => {
  await withClient(async (c, lab) => {
    const wave = await c.open(1, "T:fake:wave");
    assert.deepEqual([wave.native, wave.count], [DBR.DOUBLE, 5]);
    c.send({ kind: "read_notify", dbrType: DBR.DOUBLE, count: 0, sid: wave.sid, ioid: 1 });
    const r = await c.next("read_notify_resp", (m) => m.ioid === 1);
    assert.equal(r.count, 5);
    assert.deepEqual(decodeDbr(DBR.DOUBLE, 5, r.payload).value, [0, 0.5, 1, 1.5, 2]);
    c.send({
      kind: "write_notify",
      dbrType: DBR.DOUBLE,
      count: 3,
      sid: wave.sid,
      ioid: 2,
      payload: f64([9, 8, 7]),
    });
    assert.equal((await c.next("write_notify_resp", (m) => m.ioid === 2)).status, ECA.NORMAL);
    assert.deepEqual((await lab.get("fake").read(["wave"])).wave, [9, 8, 7]);

    const count = await c.open(2, "T:fake:count");
    assert.equal(count.native, DBR.LONG);
    c.send({ kind: "read_notify", dbrType: DBR.CTRL_LONG, count: 1, sid: count.sid, ioid: 3 });
    const cl = decodeDbr(
      DBR.CTRL_LONG,
      1,
      (await c.next("read_notify_resp", (m) => m.ioid === 3)).payload,
    );
    assert.deepEqual([cl.value, cl.lowerCtrlLimit, cl.upperCtrlLimit], [[7], 0, 1000]);

    const label = await c.open(3, "T:fake:label");
    assert.equal(label.native, DBR.STRING);
    c.send({ kind: "read_notify", dbrType: DBR.DOUBLE, count: 1, sid: label.sid, ioid: 4 });
    // "hello" is not a number: the read fails with a status, the circuit stays up.
    assert.equal((await c.next("read_notify_resp", (m) => m.ioid === 4)).status, ECA.GETFAIL);

    const mode = await c.open(4, "T:fake:mode");
    assert.equal(mode.native, DBR.STRING); // 20 states do not fit DBR_CTRL_ENUM's 16
    c.writeString(mode.sid, 5, "mode12");
    assert.equal((await c.next("write_notify_resp", (m) => m.ioid === 5)).status, ECA.NORMAL);
    c.send({ kind: "read_notify", dbrType: DBR.STRING, count: 1, sid: mode.sid, ioid: 6 });
    const m = await c.next("read_notify_resp", (m) => m.ioid === 6);
    assert.deepEqual(decodeDbr(DBR.STRING, 1, m.payload).value, ["mode12"]);
  }, FAKE);
});

Deno.test("CA server: a read bigger than the array limit is ECA_TOLARGE, not seconds of work", async () => {
  await withClient(async (c) => {
    const label = await c.open(1, "T:fake:label");
    // 387,801 strings of a string PV took 5 s of synchronous work (found by fuzzing).
    c.send({ kind: "read_notify", dbrType: DBR.STRING, count: 387_801, sid: label.sid, ioid: 1 });
    const err = await c.next("error", (m) => m.request.p2 === 1);
    assert.equal(err.status, ECA.TOLARGE);
    // 16384 bytes hold 409 strings of 40 bytes; 410 do not.
    c.send({ kind: "read_notify", dbrType: DBR.STRING, count: 409, sid: label.sid, ioid: 2 });
    assert.equal((await c.next("read_notify_resp", (m) => m.ioid === 2)).count, 409);
    c.send({ kind: "read_notify", dbrType: DBR.STRING, count: 410, sid: label.sid, ioid: 3 });
    assert.equal((await c.next("error", (m) => m.request.p2 === 3)).status, ECA.TOLARGE);
  }, FAKE);
});

Deno.test("CA server: a client that stops reading gets coalesced updates and stalls nobody", async () => {
  // 20,000-element waveforms: 160 kB per update, so a client that stops reading fills the
  // socket buffers after a few updates.
  await withServer(async (ca, lab) => {
    const slow = await RawClient.connect(ca.tcpPort);
    const fast = await RawClient.connect(ca.tcpPort);
    const fake = lab.get("fake");
    try {
      const subscribe = async (c: RawClient) => {
        const ch = await c.open(1, "T:fake:wave");
        c.send({
          kind: "event_add",
          dbrType: DBR.DOUBLE,
          count: 0,
          sid: ch.sid,
          subid: 1,
          mask: DBE.VALUE,
        });
        await c.next("event_add_resp");
      };
      await subscribe(slow);
      await subscribe(fast);
      let resume!: () => void;
      slow.paused = new Promise((r) => resume = r);
      const wave = (k: number) => Array.from({ length: 20_000 }, (_, i) => k + i);
      const latest = async (c: RawClient, k: number) => {
        while (true) {
          const m = await c.next("event_add_resp");
          if (decodeDbr(DBR.DOUBLE, 1, m.payload).value[0] === k) return m;
        }
      };
      for (let k = 1; k <= 200; k++) {
        fake.publish({ t: Date.now() / 1000, device: "fake", values: { wave: wave(k) } });
        if (k % 20 === 0) {
          // The fast client keeps up while the slow one is stuck.
          await latest(fast, k);
          fast.drain("event_add_resp");
        }
      }
      assert.ok(ca.stats().updatesCoalesced > 0, "updates for the stuck client were coalesced");
      resume();
      slow.paused = undefined;
      // Once it reads again, the slow client ends on the newest value.
      const last = await latest(slow, 200);
      assert.equal(last.count, 20_000);
    } finally {
      await slow.close();
      await fast.close();
    }
  }, `[devices.fake]\naddress = "catypes://x?n=20000"\n`);
});

Deno.test("CA server sends beacons to EPICS_CAS_BEACON_ADDR_LIST with its TCP port", async () => {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const beacons: CaMessage[] = [];
  let got!: () => void;
  const three = new Promise<void>((r) => got = r);
  let tcpPort = -1;
  sock.on("message", (msg: Buffer) => {
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    // Only ours: a caRepeater on this host may forward other servers' beacons to a port it
    // once knew as a client's.
    const ours = decodeDatagram(bytes).map((r) => decodeMessage(r, "to_client"))
      .filter((m) => m.kind === "beacon" && m.port === tcpPort);
    beacons.push(...ours);
    if (beacons.length >= 3) got();
  });
  const lab = await Lab.open(parseConfig(`[devices.g]\naddress = "sim://gauge"\n`));
  const ca = await startCaServer(lab, {
    port: 0,
    interfaces: ["127.0.0.1"],
    autoBeacon: false,
    beaconAddrs: [`127.0.0.1:${sock.address().port}`],
    beaconPeriod: 0.1,
  });
  tcpPort = ca.tcpPort;
  try {
    await three;
    const first = beacons.slice(0, 3);
    assert.deepEqual(
      first.map((b) => b.kind === "beacon" && [b.minor, b.port, b.beaconId, b.ip]),
      [0, 1, 2].map((id) => [13, ca.tcpPort, id, 0x7f000001]),
    );
    assert.ok(ca.stats().beacons >= 3);
  } finally {
    await ca.close();
    await lab.close();
    await new Promise<void>((r) => sock.close(() => r()));
  }
});

Deno.test("CA server polls monitored attrs the sampler does not read", async () => {
  await withClient(async (c, lab) => {
    const count = await c.open(1, "T:fake:count");
    c.send({
      kind: "event_add",
      dbrType: DBR.LONG,
      count: 1,
      sid: count.sid,
      subid: 1,
      mask: DBE.VALUE,
    });
    const first = await c.next("event_add_resp");
    assert.deepEqual(decodeDbr(DBR.LONG, 1, first.payload).value, [7]);
    // Changed behind the manager's back (as another program would): only polling sees it.
    await lab.get("fake").device.write("count", 9);
    const next = await c.next("event_add_resp");
    assert.deepEqual(decodeDbr(DBR.LONG, 1, next.payload).value, [9]);
  }, FAKE);
});

Deno.test("CA server: 20 clients at once all get every update", async () => {
  await withServer(async (ca, lab) => {
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => RawClient.connect(ca.tcpPort)),
    );
    const thermo = lab.get("thermo");
    try {
      await thermo.sample();
      await Promise.all(clients.map(async (c) => {
        const ch = await c.open(1, "T:thermo:temperature");
        c.send({
          kind: "event_add",
          dbrType: DBR.DOUBLE,
          count: 1,
          sid: ch.sid,
          subid: 3,
          mask: DBE.VALUE,
        });
        await c.next("event_add_resp");
      }));
      assert.equal(ca.stats().clients, 20);
      assert.equal(ca.stats().subscriptions, 20);
      for (const v of [101, 102, 103]) {
        thermo.publish({ t: Date.now() / 1000, device: "thermo", values: { temperature: v } });
        for (const c of clients) {
          const m = await c.next("event_add_resp");
          assert.deepEqual(decodeDbr(DBR.DOUBLE, 1, m.payload).value, [v]);
        }
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

/** The local non-loopback IPv4 addresses of this host (none in a bare container). */
function otherAddresses(): string[] {
  return Deno.networkInterfaces()
    .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
    .map((i) => i.address);
}

Deno.test("CA server listens on loopback only by default and says who may write", async () => {
  const lines: string[] = [];
  await withServer(
    async (ca) => {
      assert.deepEqual(ca.interfaces, ["127.0.0.1"]);
      assert.equal(ca.access, "clients on loopback may write; others are read-only");
      const start = lines.find((l) => l.startsWith("info CA server:"));
      assert.match(start ?? "", /on 127\.0\.0\.1 \(loopback only\) port \d+/);
      assert.match(start ?? "", /clients on loopback may write; others are read-only/);
      // Reachable on loopback, refused on every other address of this host.
      const c = await RawClient.connect(ca.tcpPort);
      try {
        assert.equal((await c.open(1, "T:thermo:setpoint")).write, true);
      } finally {
        await c.close();
      }
      for (const address of otherAddresses()) {
        await assert.rejects(
          Deno.connect({ hostname: address, port: ca.tcpPort }).then((conn) => conn.close()),
          Deno.errors.ConnectionRefused,
          address,
        );
      }
    },
    "",
    { log: (level, m) => lines.push(`${level} ${m}`) },
  );
});

Deno.test("a client not granted writes sees read-only access and gets ECA_NOWTACCESS", async () => {
  await withServer(
    async (ca, lab) => {
      assert.equal(ca.access, "no client may write (read-only)");
      const c = await RawClient.connect(ca.tcpPort);
      try {
        const sp = await c.open(1, "T:thermo:setpoint");
        assert.equal(sp.write, false);
        const before = (await lab.get("thermo").sample()).values.setpoint;
        const payload = new Uint8Array(new Float64Array([42]).buffer).reverse();
        c.send({
          kind: "write_notify",
          dbrType: DBR.DOUBLE,
          count: 1,
          sid: sp.sid,
          ioid: 1,
          payload,
        });
        assert.equal(
          (await c.next("write_notify_resp", (m) => m.ioid === 1)).status,
          ECA.NOWTACCESS,
        );
        c.send({ kind: "write", dbrType: DBR.DOUBLE, count: 1, sid: sp.sid, ioid: 2, payload });
        const err = await c.next("error");
        assert.equal(err.status, ECA.NOWTACCESS);
        assert.match(err.message, /client at 127\.0\.0\.1 may not write/);
        // Reads still work, and the value did not change.
        c.send({ kind: "read_notify", dbrType: DBR.DOUBLE, count: 1, sid: sp.sid, ioid: 3 });
        const r = await c.next("read_notify_resp", (m) => m.ioid === 3);
        assert.deepEqual(decodeDbr(DBR.DOUBLE, 1, r.payload).value, [before]);
        assert.equal((await lab.get("thermo").sample()).values.setpoint, before);
      } finally {
        await c.close();
      }
    },
    "",
    { interfaces: ["127.0.0.1"], write: "none" },
  );
  // A host rule grants it again.
  await withServer(
    async (ca) => {
      const c = await RawClient.connect(ca.tcpPort);
      try {
        assert.equal((await c.open(1, "T:thermo:setpoint")).write, true);
        // A read-only attr stays read-only whoever asks.
        assert.equal((await c.open(2, "T:thermo:temperature")).write, false);
      } finally {
        await c.close();
      }
    },
    "",
    { write: "none", writeHosts: ["127.0.0.0/8"] },
  );
});

/** Reads until the server closes the connection; true when it did within `ms`. */
async function closedByServer(conn: Deno.TcpConn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + ms;
  const timer = setTimeout(() => conn.close(), ms);
  try {
    while (Date.now() < deadline) {
      if ((await conn.read(buf)) === null) return true;
    }
    return false;
  } catch (err) {
    // Reset by the server: closed too. Closed by our own timer: not.
    return !(err instanceof Deno.errors.BadResource) && Date.now() < deadline;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a never-finished 15 MB message closes that circuit only; others keep working", async () => {
  const lines: string[] = [];
  await withServer(
    async (ca) => {
      const good = await RawClient.connect(ca.tcpPort);
      const bad = await Deno.connect({ hostname: "127.0.0.1", port: ca.tcpPort });
      try {
        const sp = await good.open(1, "T:thermo:setpoint");
        const size = 15 * 1024 * 1024;
        const head = encodeHeader({
          command: 4, // WRITE
          payloadSize: size,
          dataType: DBR.CHAR,
          dataCount: size,
          p1: 1,
          p2: 1,
        });
        assert.equal(head.length, EXTENDED_HEADER_SIZE);
        await bad.write(
          concatBytes([encodeMessage({ kind: "version", priority: 0, minor: 13 }), head]),
        );
        // Keep sending payload bytes, never all of them, while the other client reads.
        const sending = (async () => {
          const chunk = new Uint8Array(64 * 1024);
          try {
            for (let sent = 0; sent < size - chunk.length; sent += chunk.length) {
              await bad.write(chunk);
            }
          } catch { /* the server closed it: expected */ }
        })();
        for (let ioid = 1; ioid <= 5; ioid++) {
          good.send({ kind: "read_notify", dbrType: DBR.DOUBLE, count: 1, sid: sp.sid, ioid });
          const r = await good.next("read_notify_resp", (m) => m.ioid === ioid);
          assert.equal(r.status, ECA.NORMAL);
        }
        assert.ok(await closedByServer(bad, 5000), "the oversized circuit was closed");
        await sending;
        assert.equal(ca.stats().circuitsRefused, 1);
        assert.ok(lines.some((l) => /exceeds the 16384-byte limit/.test(l)), lines.join("\n"));
        // A command that does not exist closes that circuit too.
        const garbage = await Deno.connect({ hostname: "127.0.0.1", port: ca.tcpPort });
        await garbage.write(
          encodeHeader({
            command: 0xbeef,
            payloadSize: 0,
            dataType: 0,
            dataCount: 0,
            p1: 0,
            p2: 0,
          }),
        );
        assert.ok(await closedByServer(garbage, 5000), "the garbage circuit was closed");
        assert.equal(ca.stats().circuitsRefused, 2);
        assert.ok(
          lines.some((l) => /unknown Channel Access command 48879/.test(l)),
          lines.join("\n"),
        );
        // The well-behaved client never noticed.
        good.send({ kind: "read_notify", dbrType: DBR.DOUBLE, count: 1, sid: sp.sid, ioid: 9 });
        assert.equal((await good.next("read_notify_resp", (m) => m.ioid === 9)).status, ECA.NORMAL);
        assert.equal(ca.stats().clients, 1);
      } finally {
        await good.close();
        try {
          bad.close();
        } catch { /* closed */ }
      }
    },
    "",
    { interfaces: ["127.0.0.1"], log: (level, m) => lines.push(`${level} ${m}`) },
  );
});
