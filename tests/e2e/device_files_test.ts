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
