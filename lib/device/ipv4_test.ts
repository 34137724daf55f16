import assert from "node:assert/strict";
import { broadcastOf, hostRuleMatches, ipFromString, ipToString, parseHostRule } from "./ipv4.ts";

Deno.test("IPv4 addresses convert to and from u32", () => {
  assert.equal(ipToString(0x7f000001), "127.0.0.1");
  assert.equal(ipFromString("10.0.0.255"), 0x0a0000ff);
  assert.equal(ipFromString("300.0.0.1"), undefined);
  assert.equal(ipFromString("localhost"), undefined);
});

Deno.test("host rules refuse names and malformed blocks", () => {
  assert.deepEqual(parseHostRule("198.18.0.9/24"), {
    text: "198.18.0.9/24",
    network: 0xc6120000,
    bits: 24,
  });
  for (const bad of ["lab-pc", "198.18.0.0/33", "198.18.0", "300.1.1.1", "198.18.0.0/", ""]) {
    assert.equal(typeof parseHostRule(bad), "string", bad);
  }
});

Deno.test("a host rule matches the addresses of its block, IPv4-mapped ones too", () => {
  const rule = parseHostRule("198.19.4.0/22");
  assert.ok(typeof rule !== "string");
  assert.equal(hostRuleMatches(rule, "198.19.7.255"), true);
  assert.equal(hostRuleMatches(rule, "::ffff:198.19.4.1"), true);
  assert.equal(hostRuleMatches(rule, "198.19.8.0"), false);
  assert.equal(hostRuleMatches(rule, "fe80::1"), false);
});

Deno.test("the broadcast address of an interface", () => {
  assert.equal(broadcastOf("192.168.1.20", "255.255.255.0"), "192.168.1.255");
  assert.equal(broadcastOf("10.1.2.3", "255.0.0.0"), "10.255.255.255");
  assert.equal(broadcastOf("fe80::1", "ffff::"), undefined);
});
