import assert from "node:assert/strict";
import { searchDestinations, SearchSchedule } from "./client_search.ts";
import { decodeDatagram } from "./framing.ts";
import { CMD } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";
import { CAPTURED, hex } from "./testdata/softioc_captured.ts";

const PERIODS = { minPeriodMs: 50, maxPeriodMs: 300_000 };

Deno.test("searches of many channels fit few datagrams, each led by a VERSION", () => {
  const s = new SearchSchedule(PERIODS);
  for (let cid = 1; cid <= 300; cid++) s.add(cid, `FAKE:pv${cid}`, false, 0);
  const { due, datagrams, next } = s.pass(0);
  assert.equal(due.length, 300);
  assert.equal(datagrams.length, 10, "300 searches of 32 bytes in datagrams of 1,024 bytes");
  const names = new Set<string>();
  datagrams.forEach((d, i) => {
    assert.ok(d.length <= 1024);
    const msgs = decodeDatagram(d).map((r) => decodeMessage(r, "to_server"));
    assert.deepEqual(msgs[0], { kind: "version", priority: 1, minor: 13, sequence: i + 1 });
    for (const m of msgs.slice(1)) {
      assert.ok(m.kind === "search" && !m.reply);
      names.add(m.name);
    }
  });
  assert.equal(names.size, 300);
  assert.equal(next, 50);
});

Deno.test("retries back off from the first period, doubling up to the plateau", () => {
  const s = new SearchSchedule({ minPeriodMs: 10, maxPeriodMs: 60 });
  s.add(1, "LATE", false, 0);
  const times: number[] = [];
  let now = 0;
  for (let i = 0; i < 6; i++) {
    const { due, next } = s.pass(now);
    assert.deepEqual(due, [1]);
    times.push(now);
    now = next;
  }
  assert.deepEqual(times, [0, 10, 30, 70, 130, 190]);
  assert.deepEqual(s.pass(now - 5).due, [], "not due before its time");
  // A channel whose server refused it starts at a tenth of the plateau.
  assert.equal(s.add(2, "REFUSED", true, 1000), 1006);
});

Deno.test("a search reply finds the channel at the datagram's source, once", () => {
  const s = new SearchSchedule(PERIODS);
  s.add(1, "T:ao", false, 0);
  const reply = hex(CAPTURED["udp_search_resp"]!);
  assert.deepEqual(s.receive(reply, "127.0.0.1", 0), {
    found: [{ cid: 1, host: "127.0.0.1", port: 15264 }],
    restart: false,
  });
  assert.equal(s.size, 0);
  assert.deepEqual(s.receive(reply, "127.0.0.1", 0).found, [], "a second server's reply");
  assert.deepEqual(s.receive(new Uint8Array([1, 2, 3]), "127.0.0.1", 0).found, [], "not CA");
});

Deno.test("a beacon from a new or restarted server makes every waiting channel due now", () => {
  const s = new SearchSchedule(PERIODS);
  s.add(1, "MISSING", false, 0);
  s.pass(0);
  s.pass(50);
  const beacon = (id: number) =>
    encodeMessage({ kind: "beacon", minor: 13, port: 15364, beaconId: id, ip: 0 });
  assert.equal(s.receive(hex(CAPTURED["beacon"]!), "10.0.0.5", 60).restart, true, "new server");
  assert.deepEqual(s.pass(60).due, [1]);
  assert.equal(s.receive(beacon(1), "10.0.0.5", 70).restart, false, "the next beacon in line");
  assert.equal(s.receive(beacon(0), "10.0.0.5", 80).restart, true, "ids started over");
  assert.equal(decodeDatagram(beacon(0))[0]!.command, CMD.RSRV_IS_UP);
});

Deno.test("destinations: the address list with default ports, then interface broadcasts", () => {
  const warnings: string[] = [];
  const dests = searchDestinations(
    ["127.0.0.1", "10.0.0.5:5070", "127.0.0.1:5064", "[::1]:5064", "bad]entry"],
    5064,
    true,
    [
      { family: "IPv4", address: "192.168.1.20", netmask: "255.255.255.0" },
      { family: "IPv4", address: "127.0.0.1", netmask: "255.0.0.0" },
      { family: "IPv6", address: "fe80::1", netmask: "ffff:ffff:ffff:ffff::" },
    ],
    (m) => warnings.push(m),
  );
  assert.deepEqual(dests, [
    { host: "127.0.0.1", port: 5064 },
    { host: "10.0.0.5", port: 5070 },
    { host: "::1", port: 5064 },
    { host: "192.168.1.255", port: 5064 },
  ]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /"bad]entry" is not host\[:port\]/);
  assert.deepEqual(searchDestinations([], 5064, false, [], () => {}), []);
});
