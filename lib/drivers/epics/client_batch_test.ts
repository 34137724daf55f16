import assert from "node:assert/strict";
import { type BatchOptions, readPvs } from "./client_batch.ts";
import { CaDevice } from "./driver.ts";
import { addShapes, FakeServer, pv } from "./fake_server.ts";
import { decodeDatagram } from "./framing.ts";
import { CMD } from "./messages.ts";
import { decodeMessage } from "./protocol.ts";
import { DBR } from "./dbr_types.ts";
import { ECA } from "./eca.ts";
import { DeviceError, TimeoutError } from "../../device/errors.ts";
import { parseAddress } from "../../device/address.ts";

function only(fake: FakeServer): BatchOptions {
  const client = { addrList: ["127.0.0.1"], autoAddrList: false, serverPort: fake.udpPort };
  return { defaultTimeout: 2000, client };
}

const batch = (names: string[], timeout?: number) =>
  names.map((name) => ({ name: `dev-${name}`, address: parseAddress(`ca://${name}`), timeout }));

Deno.test("a batch reads every PV as a ca:// device does, in one search round and one circuit", async () => {
  const fake = new FakeServer();
  await fake.start();
  addShapes(fake);
  fake.pvs.set("BYTES", pv(DBR.CHAR, [1, 2, 200]));
  const alarmed = pv(DBR.DOUBLE, [9.5]);
  Object.assign(alarmed.data, { severity: 2, status: 3 });
  fake.pvs.set("HIHI", alarmed);
  fake.pvs.set("SHORT", pv(DBR.SHORT, [-7]));
  fake.pvs.set("FLOAT", pv(DBR.FLOAT, [0.1]));
  for (let i = 0; i < 300; i++) fake.pvs.set(`FAKE:pv${i}`, pv(DBR.DOUBLE, [i + 0.5]));
  const special = ["MBBO", "LONG", "STR", "WAVE", "DESC$", "BYTES", "HIHI", "SHORT", "FLOAT"];
  const names = [...special, ...Array.from({ length: 300 }, (_, i) => `FAKE:pv${i}`)];
  const client = fake.client();
  try {
    const got = await readPvs(batch(names), only(fake));
    assert.equal(fake.connections, 1);
    // One device per PV on the shared client gives the same readings.
    for (const [k, name] of special.entries()) {
      const d = new CaDevice(name, `ca://${name}`, name, { client });
      assert.deepEqual(got[k], await d.read(), name);
      await d.close();
    }
    assert.deepEqual(got[0], { value: "Run", severity: "NO_ALARM", status: "NO_ALARM" });
    assert.deepEqual(got[6], { value: 9.5, severity: "MAJOR", status: "HIHI" });
    assert.deepEqual(got.slice(special.length).map((v) => (v as { value: number }).value), [
      ...Array.from({ length: 300 }, (_, i) => i + 0.5),
    ]);
    assert.deepEqual(got[7], { value: -7, severity: "NO_ALARM", status: "NO_ALARM" });
    assert.equal((got[8] as { value: number }).value, Math.fround(0.1));
    // 309 searches fit a few datagrams of at most 1,024 bytes, each led by a VERSION (retries,
    // if the machine is slow to answer, come after).
    const seen = new Set<string>();
    let first = 0;
    for (const d of fake.searchDatagrams) {
      assert.ok(d.length <= 1024);
      const msgs = decodeDatagram(d);
      assert.equal(msgs[0]!.command, CMD.VERSION);
      if (seen.size === names.length) continue;
      first++;
      for (const m of msgs.map((r) => decodeMessage(r, "to_server"))) {
        if (m.kind === "search") seen.add(m.name);
      }
    }
    assert.equal(seen.size, names.length);
    assert.ok(first <= 11, `the first round took ${first} datagrams`);
    const kinds = fake.received.map((m) => m.kind);
    assert.deepEqual(kinds.slice(0, 3), ["version", "client_name", "host_name"]);
    // The batch's channels, then the shared client's.
    assert.equal(kinds.filter((k) => k === "create_chan").length, names.length + special.length);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("each PV of a batch fails on its own: not found, refused, no read access", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("OK", pv(DBR.DOUBLE, [1]));
  fake.pvs.set("SECRET", { ...pv(DBR.DOUBLE, [2]), read: false });
  fake.pvs.set("GONE", pv(DBR.DOUBLE, [3]));
  // Found by the search, then refused by CREATE_CHAN (CREATE_CH_FAIL): it stays unfound.
  fake.answer = (name) => {
    if (name === "GONE") fake.pvs.delete("GONE");
    return true;
  };
  try {
    const started = performance.now();
    const got = await readPvs(batch(["OK", "NOPE", "SECRET", "GONE"], 300), only(fake));
    assert.ok(performance.now() - started < 2000);
    assert.deepEqual(got[0], { value: 1, severity: "NO_ALARM", status: "NO_ALARM" });
    for (const [i, name] of [[1, "NOPE"], [3, "GONE"]] as const) {
      const err = got[i] as TimeoutError;
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.device, `dev-${name}`);
      assert.match(
        err.message,
        new RegExp(`^PV ${name} not found: no CA server answered the search within 300 ms \\(`),
      );
      assert.match(err.message, /EPICS_CA_AUTO_ADDR_LIST=NO/);
    }
    const denied = got[2] as DeviceError;
    assert.ok(denied instanceof DeviceError);
    assert.equal(denied.message, "SECRET: read access denied by the server");
    assert.equal(denied.device, "dev-SECRET");
    // The unanswered PV was searched again (back-off), the others once.
    assert.ok(fake.searched.filter((n) => n === "NOPE").length >= 2);
    assert.equal(fake.searched.filter((n) => n === "OK").length, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("a search longer than a datagram goes alone; the others fill datagrams around it", async () => {
  const fake = new FakeServer();
  await fake.start();
  const before = Array.from({ length: 50 }, (_, i) => `FAKE:a${String(i).padStart(3, "0")}`);
  const after = Array.from({ length: 50 }, (_, i) => `FAKE:b${String(i).padStart(3, "0")}`);
  for (const name of [...before, ...after]) fake.pvs.set(name, pv(DBR.DOUBLE, [1]));
  // 1,000 bytes of UTF-8: its search (1,024 bytes) and the VERSION leading it exceed 1,024.
  const long = "é".repeat(500);
  const names = [...before, long, ...after];
  try {
    const got = await readPvs(batch(names, 300), only(fake));
    for (const [k, r] of got.entries()) {
      if (k === before.length) assert.ok(r instanceof TimeoutError);
      else assert.deepEqual(r, { value: 1, severity: "NO_ALARM", status: "NO_ALARM" });
    }
    // The first round's five datagrams (the long one is searched again later, alone), in the
    // order they arrived, which need not be the order they were sent.
    const round = fake.searchDatagrams.slice(0, 5).map((d) => {
      const msgs = decodeDatagram(d);
      assert.equal(msgs[0]!.command, CMD.VERSION);
      const searched = msgs.slice(1).map((r) => decodeMessage(r, "to_server"));
      return { bytes: d.length, names: searched.map((m) => (m as { name: string }).name) };
    }).sort((a, b) => a.names[0]! < b.names[0]! ? -1 : 1);
    // Searches of 32 bytes: 31 fit a datagram beside its VERSION.
    assert.deepEqual(round.map((d) => d.names), [
      before.slice(0, 31),
      before.slice(31),
      after.slice(0, 31),
      after.slice(31),
      [long],
    ]);
    assert.deepEqual(round.map((d) => d.bytes), [1008, 624, 1008, 624, 16 + 16 + 1008]);
  } finally {
    await fake.close();
  }
});

Deno.test("a read the server fails is worded from the ECA table, named after its device", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("OK", pv(DBR.DOUBLE, [1]));
  fake.pvs.set("BROKEN", { ...pv(DBR.DOUBLE, [2]), readStatus: ECA.GETFAIL });
  try {
    const got = await readPvs(batch(["OK", "BROKEN"]), only(fake));
    assert.deepEqual(got[0], { value: 1, severity: "NO_ALARM", status: "NO_ALARM" });
    const failed = got[1] as DeviceError;
    assert.ok(failed instanceof DeviceError);
    assert.equal(failed.name, "DeviceError");
    assert.equal(failed.message, "reading BROKEN: Channel read request failed (ECA_GETFAIL)");
    assert.equal(failed.device, "dev-BROKEN");
  } finally {
    await fake.close();
  }
});

Deno.test("a batch with nowhere to search fails every PV at once, saying why", async () => {
  const nowhere = { defaultTimeout: 1000, client: { addrList: [], autoAddrList: false } };
  const got = await readPvs(batch(["A", "B"]), nowhere);
  for (const e of got) {
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, /EPICS_CA_ADDR_LIST is empty and EPICS_CA_AUTO_ADDR_LIST=NO/);
  }
  assert.deepEqual(await readPvs([], nowhere), []);
});
