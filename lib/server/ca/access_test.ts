import assert from "node:assert/strict";
import { isLoopback } from "../listen.ts";
import { writePolicy } from "./access.ts";

Deno.test("the default policy lets loopback clients write and nobody else", () => {
  const p = writePolicy();
  assert.equal(p.mode, "loopback");
  for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(p.mayWrite(a), true, a);
  }
  for (const a of ["198.18.0.2", "10.0.0.5", "0.0.0.0", "::ffff:198.18.0.2", "fe80::1", ""]) {
    assert.equal(p.mayWrite(a), false, a);
  }
  assert.match(p.describe(), /loopback may write; others are read-only/);
});

Deno.test("write_hosts grant single addresses and CIDR blocks", () => {
  const p = writePolicy({ write: "none", writeHosts: ["198.18.0.2", "198.19.4.0/22"] });
  assert.equal(p.mayWrite("198.18.0.2"), true);
  assert.equal(p.mayWrite("::ffff:198.18.0.2"), true);
  assert.equal(p.mayWrite("198.18.0.3"), false);
  assert.equal(p.mayWrite("198.19.7.255"), true);
  assert.equal(p.mayWrite("198.19.8.0"), false);
  // "none" means not even loopback, unless listed.
  assert.equal(p.mayWrite("127.0.0.1"), false);
  assert.match(p.describe(), /198\.18\.0\.2, 198\.19\.4\.0\/22 may write/);
  assert.equal(writePolicy({ write: "none" }).describe(), "no client may write (read-only)");
  const all = writePolicy({ write: "all" });
  assert.equal(all.mayWrite("203.0.113.9"), true);
  const loop = writePolicy({ writeHosts: ["198.18.0.0/30"] });
  assert.equal(loop.mayWrite("127.0.0.1"), true);
  assert.equal(loop.mayWrite("198.18.0.1"), true);
  assert.equal(loop.mayWrite("198.18.0.4"), false);
  assert.equal(writePolicy({ write: "none", writeHosts: ["0.0.0.0/0"] }).mayWrite("1.2.3.4"), true);
});

Deno.test("write_hosts must be valid host rules; loopback peers are recognised", () => {
  assert.throws(() => writePolicy({ writeHosts: ["lab-pc"] }), TypeError);
  assert.equal(isLoopback("127.0.0.1"), true);
  assert.equal(isLoopback("128.0.0.1"), false);
});
