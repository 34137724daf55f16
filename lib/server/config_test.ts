import assert from "node:assert/strict";
import { parseServerConfig } from "./config.ts";
import { ConfigError } from "../device/errors.ts";
import { parseConfig } from "../config/load.ts";

Deno.test("[server] is optional and validated key by key", () => {
  assert.deepEqual(parseServerConfig(undefined), { cors: [] });
  const cfg = parseConfig(
    `[server]\nlisten = "0.0.0.0:9000"\ntoken_file = "/etc/labwire/token"\ncors = ["https://lab.example.org/"]\nmax_body = 4096\n`,
    "lab.toml",
  );
  assert.deepEqual(parseServerConfig(cfg.sections.server, cfg.file), {
    listen: { hostname: "0.0.0.0", port: 9000 },
    tokenFile: "/etc/labwire/token",
    cors: ["https://lab.example.org"],
    maxBody: 4096,
  });
});

Deno.test("[server] errors name the file and the key", () => {
  const cases: [unknown, string][] = [
    [{ listne: "x" }, "lab.toml: server.listne: unknown key"],
    [{ listen: 8600 }, "lab.toml: server.listen: expected"],
    [{ listen: "host" }, "lab.toml: server.listen:"],
    [{ cors: ["lab.example.org"] }, "lab.toml: server.cors:"],
    [{ cors: ["https://a.example/path"] }, "lab.toml: server.cors:"],
    [{ max_body: 10 }, "lab.toml: server.max_body:"],
    [{ token_file: 3 }, "lab.toml: server.token_file:"],
    ["x", "lab.toml: server: expected a table"],
  ];
  for (const [raw, prefix] of cases) {
    assert.throws(
      () => parseServerConfig(raw, "lab.toml"),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(prefix),
      JSON.stringify(raw),
    );
  }
  assert.throws(() => parseServerConfig({ listne: 1 }, "lab.toml"), /did you mean "listen"/);
});

Deno.test("[server] max_scan_points and max_task_duration are bounded; durations need a unit", () => {
  assert.deepEqual(
    parseServerConfig({ max_scan_points: 5000, max_task_duration: "12h" }, "lab.toml"),
    { cors: [], maxScanPoints: 5000, maxTaskDurationS: 43_200 },
  );
  for (
    const raw of [
      { max_scan_points: 0 },
      { max_scan_points: 1.5 },
      { max_scan_points: 1e12 },
      { max_scan_points: "1000" },
      { max_task_duration: "0s" },
      { max_task_duration: 3600 },
      { max_task_duration: "3600" },
      { max_task_duration: "400d" },
    ]
  ) {
    const key = Object.keys(raw)[0];
    assert.throws(
      () => parseServerConfig(raw, "lab.toml"),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`lab.toml: server.${key}:`),
      JSON.stringify(raw),
    );
  }
});

Deno.test("[server] file paths are relative to the config file's folder, as [session] path is", () => {
  const s = parseServerConfig(
    { token_file: "token", tls_cert: "tls/cert.pem", tls_key: "/srv/key.pem" },
    "/etc/labwire/labwire.toml",
  );
  assert.equal(s.tokenFile, "/etc/labwire/token");
  assert.equal(s.tlsCert, "/etc/labwire/tls/cert.pem");
  assert.equal(s.tlsKey, "/srv/key.pem");
  // the built-in benches have no folder: a path stays as written
  assert.equal(parseServerConfig({ tls_cert: "cert.pem" }, "<demo>").tlsCert, "cert.pem");
});
