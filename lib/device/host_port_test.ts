import assert from "node:assert/strict";
import { splitHostPort } from "./host_port.ts";

Deno.test("splitHostPort: one parser for peers and listeners", () => {
  assert.deepEqual(splitHostPort("[::1]:8081", {}), { host: "[::1]", hostname: "::1", port: 8081 });
  assert.deepEqual(splitHostPort("gauge-1.lab", { defaultPort: 80 }), {
    host: "gauge-1.lab",
    hostname: "gauge-1.lab",
    port: 80,
  });
  // a bare number is the port only where a port must be written
  assert.deepEqual(splitHostPort("9000", { defaultHost: "127.0.0.1", minPort: 0 }), {
    host: "127.0.0.1",
    hostname: "127.0.0.1",
    port: 9000,
  });
  assert.deepEqual(splitHostPort("9000", { defaultPort: 80 }), {
    host: "9000",
    hostname: "9000",
    port: 80,
  });
  assert.deepEqual(splitHostPort("h:0", {}), { problem: "port", port: "0" });
  assert.deepEqual(splitHostPort("h:0", { minPort: 0 }), { host: "h", hostname: "h", port: 0 });
  assert.deepEqual(splitHostPort("h:70000", {}), { problem: "port", port: "70000" });
  for (const bad of ["::1:80", "h:port", "h", ":80"]) {
    assert.deepEqual(splitHostPort(bad, {}), { problem: "shape" }, bad);
  }
});
