import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { loadTls, plainHttpWarning } from "./tls.ts";

Deno.test("loadTls: neither file is plain HTTP; one alone, unreadable or not PEM is a usage error", async () => {
  assert.equal(await loadTls({}), undefined);
  await assert.rejects(loadTls({ cert: "c.pem" }), (e) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /--tls-cert needs --tls-key too/);
    return true;
  });
  await assert.rejects(loadTls({ cert: "/nonexistent/c.pem", key: "/nonexistent/k.pem" }), (e) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /--tls-cert \/nonexistent\/c.pem: cannot read it/);
    return true;
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.pem`, "-----BEGIN CERTIFICATE-----\nAA==\n");
    await Deno.writeTextFile(`${dir}/k.pem`, "not a key");
    await assert.rejects(loadTls({ cert: `${dir}/c.pem`, key: `${dir}/k.pem` }), /not a PEM file/);
    await Deno.writeTextFile(`${dir}/k.pem`, "-----BEGIN EC PRIVATE KEY-----\nAA==\n");
    const pem = await loadTls({ cert: `${dir}/c.pem`, key: `${dir}/k.pem` });
    assert.match(pem!.key, /EC PRIVATE KEY/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plainHttpWarning: only beyond loopback and only without TLS", () => {
  assert.equal(plainHttpWarning({ hostname: "127.0.0.1", port: 1 }, false), undefined);
  assert.equal(plainHttpWarning({ hostname: "::1", port: 1 }, false), undefined);
  assert.equal(plainHttpWarning({ hostname: "0.0.0.0", port: 1 }, true), undefined);
  assert.match(plainHttpWarning({ hostname: "0.0.0.0", port: 1 }, false)!, /without TLS/);
});
