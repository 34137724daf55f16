/**
 * The files a config's device tables name (`token_file`, `ca_file`) are beside the config file,
 * as every path a config names: the same config reads the same files from any folder (it used to
 * read them relative to the folder the command ran in).
 */
import assert from "node:assert/strict";
import { spawnServe } from "./labwire_process.ts";
import { ROOT, runCli } from "./run_cli.ts";

Deno.test("a device table's token_file and ca_file are relative to the config file, not the cwd", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-device-files-" });
  const token = "device-files-token-0123456789";
  await Deno.writeTextFile(`${dir}/token`, token);
  const serve = await spawnServe(["--demo", "--no-record", "--token-file", `${dir}/token`]);
  try {
    const host = new URL(serve.url).host;
    await Deno.writeTextFile(
      `${dir}/client.toml`,
      `[devices.remote]\naddress = "labwire://${host}/thermo"\ntoken_file = "token"\n\n` +
        `[devices.secure]\naddress = "labwire+https://${host}/thermo"\nca_file = "ca.pem"\n`,
    );
    // run from another folder than the config's: a write needs the token beside the config
    const write = await runCli(
      ["write", "remote", "setpoint=30", "--config", `${dir}/client.toml`],
      {
        cwd: ROOT,
      },
    );
    assert.equal(write.code, 0, write.stderr);
    assert.equal(JSON.parse(write.stdout).setpoint, 30);
    // no ca.pem beside the config: the error names the file looked for there
    const secure = await runCli(["read", "secure", "--config", `${dir}/client.toml`], {
      cwd: ROOT,
    });
    assert.equal(secure.code, 2, secure.stderr);
    assert.match(secure.stderr, new RegExp(`ca_file ${dir}/ca\\.pem: cannot read it`));
  } finally {
    await serve.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("POST /api/devices: token_file is beside the daemon's config; without a config a relative one is a 422", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-device-files-post-" });
  const token = "device-files-post-token-0123456789";
  await Deno.writeTextFile(`${dir}/token`, token);
  await Deno.writeTextFile(`${dir}/central.toml`, `[devices.g]\naddress = "sim://gauge"\n`);
  const remote = await spawnServe(["--demo", "--no-record", "--token-file", `${dir}/token`]);
  // The daemon runs in the repository's folder, where there is no file named "token".
  const central = await spawnServe([
    "--config",
    `${dir}/central.toml`,
    "--no-record",
    "--token-file",
    `${dir}/token`,
  ]);
  const bare = await spawnServe(["--demo", "--no-record", "--token-file", `${dir}/token`]);
  const post = async (url: string, body: unknown) => {
    const res = await fetch(`${url}/api/devices`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    const host = new URL(remote.url).host;
    const device = {
      name: "remote",
      address: `labwire://${host}/thermo`,
      options: { token_file: "token" },
    };
    const added = await post(central.url, device);
    assert.equal(added.status, 201, JSON.stringify(added.body));
    // the token was read from beside central.toml: a write through the central daemon passes
    const res = await fetch(`${central.url}/api/devices/remote/attrs/setpoint`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ value: 31 }),
    });
    const written = await res.json();
    assert.equal(res.status, 200, JSON.stringify(written));
    assert.equal(written.value, 31);

    const refused = await post(bare.url, device);
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.match(
      refused.body.error.message,
      /token_file "token" is a relative path.*absolute path/,
    );
    const inAddress = await post(bare.url, {
      name: "remote",
      address: `labwire://${host}/thermo?token_file=pc7.token`,
    });
    assert.equal(inAddress.status, 422, JSON.stringify(inAddress.body));
    assert.match(inAddress.body.error.message, /token_file "pc7\.token"/);
  } finally {
    await Promise.all([remote.stop(), central.stop(), bare.stop()]);
    await Deno.remove(dir, { recursive: true });
  }
});
