/**
 * MQTT over TLS (`mqtts://`) against a mosquitto with a certificate openssl made for the test:
 * `serve --mqtt mqtts://…` with `[mqtt] ca_file` publishes (seen by `mosquitto_sub --cafile`),
 * an `mqtts://` device reads with its `ca_file`, and without the CA the certificate is refused.
 */
import assert from "node:assert/strict";
import { findProgram, peerTest, runTool } from "../peers.ts";
import { runCli } from "../e2e/run_cli.ts";
import { spawnServe } from "../e2e/labwire_process.ts";
import { until } from "../e2e/serve_fixture.ts";
import { missingMqttPeers, startBroker } from "./mosquitto.ts";
import { makeCert } from "./tls_cert.ts";

const missing = () => [
  ...missingMqttPeers(),
  ...(findProgram("openssl") ? [] : ["openssl"]),
];

peerTest("MQTT over TLS: serve publishes and a device reads with ca_file", missing, async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-mqtts-" });
  const { cert, key } = await makeCert(dir);
  const broker = await startBroker(dir, undefined, false, { cert, key });
  // mosquitto_sub and mosquitto_pub to the broker, trusting its certificate
  const tls = ["-h", "127.0.0.1", "-p", String(broker.port), "--cafile", cert];
  const sub = (topic: string, extra: string[] = []) =>
    runTool(findProgram("mosquitto_sub")!, [
      ...tls,
      "-t",
      topic,
      "-C",
      "1",
      "-W",
      "10",
      ...extra,
    ], { timeoutMs: 15_000 });
  try {
    assert.match(broker.url, /^mqtts:/);
    await Deno.writeTextFile(
      `${dir}/lab.toml`,
      `[devices.thermo]\naddress = "sim://thermo?seed=2"\ninterval = "200ms"\n\n` +
        `[mqtt]\nurl = "${broker.url}"\nca_file = "${cert}"\n`,
    );
    const s = await spawnServe([`${dir}/lab.toml`, "--no-record"]);
    try {
      const got = await sub("labwire/thermo/setpoint");
      assert.equal(got.code, 0, got.err);
      assert.equal(got.out.trim(), "25");
    } finally {
      await s.stop();
    }

    // Without the CA, the broker's certificate is refused and serve says so (and keeps trying).
    await Deno.writeTextFile(
      `${dir}/untrusted.toml`,
      `[devices.thermo]\naddress = "sim://thermo?seed=2"\n\n[mqtt]\nurl = "${broker.url}"\n`,
    );
    const u = await spawnServe([`${dir}/untrusted.toml`, "--no-record"]);
    try {
      await until(
        () =>
          u.lines.some((l) =>
            /MQTT broker mqtts:\/\/127\.0\.0\.1:\d+ unreachable: .*certificate/i.test(l)
          ),
        15_000,
        "the refused certificate",
      );
    } finally {
      await u.stop();
    }

    // An mqtts:// device with ca_file reads what a TLS client published (retained).
    const pub = await runTool(findProgram("mosquitto_pub")!, [
      ...tls,
      "-r",
      "-t",
      "lab/t9",
      "-m",
      "4.25",
    ]);
    assert.equal(pub.code, 0, pub.err);
    await Deno.writeTextFile(
      `${dir}/dev.toml`,
      `[devices.t9]\naddress = "${broker.url}/lab/t9"\nca_file = "${cert}"\n`,
    );
    const read = await runCli(["read", "-c", `${dir}/dev.toml`, "t9"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(JSON.parse(read.stdout).value, 4.25);
  } finally {
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
