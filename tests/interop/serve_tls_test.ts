/**
 * `serve --tls-cert --tls-key`: HTTPS checked by curl against a certificate openssl made for the
 * test, and the start-up warning for a listener beyond loopback without TLS.
 */
import assert from "node:assert/strict";
import { findProgram, peerTest, runTool } from "../peers.ts";
import { makeCert } from "./tls_cert.ts";
import { spawnServe } from "../e2e/labwire_process.ts";

const missing = () => ["openssl", "curl"].filter((p) => findProgram(p) === undefined);

peerTest(
  "serve over HTTPS: curl --cacert reads the API, plain HTTP is refused",
  missing,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-tls-" });
    const { cert, key } = await makeCert(dir);
    const s = await spawnServe(["--demo", "--no-record", "--tls-cert", cert, "--tls-key", key]);
    try {
      assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ok = await runTool("curl", ["-sS", "--cacert", cert, `${s.url}/api/devices`]);
      assert.equal(ok.code, 0, ok.err);
      const names = (JSON.parse(ok.out).devices as { name: string }[]).map((d) => d.name);
      assert.ok(names.includes("gauge"), ok.out);
      // Without the CA, curl refuses the self-signed certificate: TLS is really checked.
      const untrusted = await runTool("curl", ["-sS", `${s.url}/healthz`]);
      assert.equal(untrusted.code, 60, untrusted.err);
      const plain = await runTool("curl", ["-sS", s.url.replace("https:", "http:") + "/healthz"]);
      assert.notEqual(plain.code, 0, "plain HTTP on the TLS port is not answered");
      assert.ok(!s.lines.some((l) => /without TLS/.test(l)), s.lines.join("\n"));
    } finally {
      await s.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "serve beyond loopback without TLS warns on start-up; with TLS it does not",
  missing,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-tls-" });
    const { cert, key } = await makeCert(dir);
    await Deno.writeTextFile(`${dir}/token`, "0123456789abcdef0123456789abcdef\n");
    const common = [
      "--demo",
      "--no-record",
      "--listen",
      "0.0.0.0:0",
      "--token-file",
      `${dir}/token`,
    ];
    const plain = await spawnServe(common);
    try {
      assert.ok(
        plain.lines.some((l) => /listening on 0\.0\.0\.0:0 without TLS.*--tls-cert FILE/.test(l)),
        plain.lines.join("\n"),
      );
    } finally {
      await plain.stop();
    }
    const tls = await spawnServe([...common, "--tls-cert", cert, "--tls-key", key]);
    try {
      assert.ok(!tls.lines.some((l) => /without TLS/.test(l)), tls.lines.join("\n"));
      const ok = await runTool("curl", ["-sS", "--cacert", cert, `${tls.url}/healthz`]);
      assert.equal(ok.code, 0, ok.err);
    } finally {
      await tls.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
