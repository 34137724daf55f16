import assert from "node:assert/strict";
import { isLoopback, listenUrl } from "./listen.ts";
import { parseListen } from "../device/host_port.ts";
import { UsageError } from "../device/errors.ts";

Deno.test("parseListen reads host:port, [v6]:port, :port and a bare port", () => {
  assert.deepEqual(parseListen("127.0.0.1:8600"), { hostname: "127.0.0.1", port: 8600 });
  assert.deepEqual(parseListen("0.0.0.0:80"), { hostname: "0.0.0.0", port: 80 });
  assert.deepEqual(parseListen("[::1]:0"), { hostname: "::1", port: 0 });
  assert.deepEqual(parseListen(":9000"), { hostname: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseListen("9000"), { hostname: "127.0.0.1", port: 9000 });
  assert.throws(() => parseListen("localhost"), UsageError);
  assert.throws(() => parseListen("::1:80"), UsageError);
  assert.throws(() => parseListen("h:70000"), UsageError);
});

Deno.test("isLoopback: 127/8, ::1 and localhost only", () => {
  for (const h of ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]", "localhost"]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "128.0.0.1", "example.org"]) {
    assert.equal(isLoopback(h), false, h);
  }
});

Deno.test("listenUrl shows a reachable URL", () => {
  assert.equal(listenUrl({ hostname: "::1", port: 1 }), "http://[::1]:1");
  assert.equal(listenUrl({ hostname: "0.0.0.0", port: 8600 }), "http://127.0.0.1:8600");
});

Deno.test("listenUrl says https when the server has TLS", () => {
  assert.equal(listenUrl({ hostname: "127.0.0.1", port: 8643 }, true), "https://127.0.0.1:8643");
});
