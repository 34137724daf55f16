import assert from "node:assert/strict";
import { resolve } from "node:path";
import "../lib/server/ca/addon.ts";
import { loadConfig } from "../lib/config/file.ts";
import { ConfigError, UsageError } from "../lib/device/errors.ts";
import { CREDENTIAL_TOKEN, hiddenFromService, STATE_SESSION } from "../lib/server/systemd.ts";
import { effectiveServe, parseServeArgs, serviceUnit } from "./serve.ts";

/** Splits a unit's ExecStart the way systemd does (double quotes, backslash escapes, %% and $$). */
function execStartWords(unit: string): string[] {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="));
  assert.ok(line, "the unit has an ExecStart line");
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.slice("ExecStart=".length).matchAll(re)) {
    const raw = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!;
    // ${CREDENTIALS_DIRECTORY} is the one variable systemd expands; $$ and %% are literal.
    words.push(raw === CREDENTIAL_TOKEN ? raw : raw.replace(/\$\$/g, "$").replace(/%%/g, "%"));
  }
  return words;
}

const EXEC = "/usr/local/bin/labwire";

/**
 * Prints the unit for `args`, runs its ExecStart through the same flag parser, and compares the
 * effective settings of both commands. Returns the unit for further checks.
 */
async function roundTrip(args: string[], sessionDefault = false): Promise<string> {
  const tried = parseServeArgs(args);
  const unit = await serviceUnit(tried, EXEC);
  const words = execStartWords(unit);
  assert.deepEqual(words.slice(0, 2), [EXEC, "serve"]);
  const installed = parseServeArgs(words.slice(2));
  const a = effectiveServe(tried, await loadConfig(tried.config));
  const b = effectiveServe(installed, await loadConfig(installed.config));
  if (a.tokenFile !== undefined) {
    // The token reaches the service as a credential of the same file.
    assert.equal(b.tokenFile, CREDENTIAL_TOKEN);
    assert.ok(unit.includes(`LoadCredential=token:${resolve(a.tokenFile)}\n`), unit);
    b.tokenFile = a.tokenFile;
  }
  if (sessionDefault) {
    // Nothing chose a session file: the service records in its state directory, since the
    // hardened unit may not write beside its config.
    assert.equal(b.session, STATE_SESSION);
    b.session = a.session;
  }
  assert.deepEqual(b, a, `${args.join(" ")}\n${unit}`);
  return unit;
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    await fn(dir);
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
}

const DEVICES = '[devices.g]\naddress = "sim://gauge"\n';

Deno.test("the systemd unit runs the same serve as the command that printed it", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(
      "lab.toml",
      `${DEVICES}[server]\nlisten = "127.0.0.1:9100"\n[session]\npath = "data/run.sqlite"\n`,
    );
    await Deno.writeTextFile("plain.toml", DEVICES);
    await Deno.writeTextFile("tok", "secret\n");

    // CA, prefix, interval and --no-record are kept; [server] listen and [session] path are
    // left to the config.
    const a = await roundTrip([
      "lab.toml",
      "--print-systemd-unit",
      "--ca",
      "--ca-prefix",
      "LAB:",
      "--interval",
      "500ms",
      "--no-record",
    ]);
    const execA = a.split("\n").find((l) => l.startsWith("ExecStart="))!;
    assert.doesNotMatch(execA, /--listen|--session/);
    for (const flag of ["--ca", "--ca-prefix=LAB:", "--interval=500ms", "--no-record"]) {
      assert.ok(execA.split(" ").includes(flag), `${flag} in ${execA}`);
    }
    assert.ok(execA.includes(`--config ${dir}/lab.toml`));

    // The config's [session] path is used, and the unit lets the service write there.
    const b = await roundTrip(["--config", "lab.toml", "--print-systemd-unit"]);
    assert.ok(b.includes(`ReadWritePaths=${dir}/data\n`), b);

    // Given flags win over the config, with relative paths made absolute.
    const c = await roundTrip([
      "--print-systemd-unit",
      "-c",
      "lab.toml",
      "--listen",
      "0.0.0.0:8601",
      "--token-file",
      "tok",
      "--session",
      "run.sqlite",
      "-i",
      "2s",
      "--tls-cert",
      "cert.pem",
      "--tls-key",
      "key.pem",
    ]);
    assert.ok(c.includes(`--session ${dir}/run.sqlite`));
    assert.ok(c.includes(`--tls-cert=${dir}/cert.pem --tls-key=${dir}/key.pem`), c);

    // A token file named by the config reaches the service as a credential too.
    await Deno.writeTextFile(
      "open.toml",
      `${DEVICES}[server]\nlisten = "0.0.0.0:8600"\ntoken_file = "tok"\n`,
    );
    const d = await roundTrip(["--print-systemd-unit", "open.toml"], true);
    assert.ok(d.includes(`LoadCredential=token:${dir}/tok\n`), d);

    // Values with characters systemd would expand survive the round trip.
    await roundTrip(["--print-systemd-unit", "plain.toml", "--ca-prefix", "A%1$B:"], true);
    await roundTrip(["--print-systemd-unit", "plain.toml"], true);
  });
});

Deno.test("printing a unit validates the config and the flags first (exit 2)", async () => {
  await inTempDir(async () => {
    await Deno.writeTextFile("bad.toml", `${DEVICES}[server]\nlisen = "127.0.0.1:1"\n`);
    await assert.rejects(
      () => serviceUnit(parseServeArgs(["bad.toml", "--print-systemd-unit"]), EXEC),
      (e: unknown) => e instanceof ConfigError && /bad\.toml: server\.lisen/.test(e.message),
    );
  });
  assert.throws(
    () => parseServeArgs(["--print-systemd-unit", "--interval", "0s"]),
    (e: unknown) => e instanceof UsageError && /--interval: "0s" is too short/.test(e.message),
  );
  assert.throws(() => parseServeArgs(["--listen", "nowhere"]), UsageError);
  assert.throws(() => parseServeArgs(["a.toml", "--config", "b.toml"]), /not both/);
});

Deno.test("printing a unit warns about files the hardened service cannot see (/tmp, home folders)", async () => {
  await inTempDir(async (dir) => {
    // the temporary folder is under /tmp, which the unit's PrivateTmp=yes replaces
    await Deno.writeTextFile("lab.toml", DEVICES);
    const warnings: string[] = [];
    await serviceUnit(
      parseServeArgs(["lab.toml", "--print-systemd-unit", "--session", "run.sqlite"]),
      EXEC,
      (m) => warnings.push(m),
    );
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings[0]!, new RegExp(`^the service cannot see ${dir}/lab\\.toml: `));
    assert.match(warnings[1]!, new RegExp(`^the service cannot see ${dir}: `));
    // and the certificate and key given as flags, made absolute as the unit passes them on
    warnings.length = 0;
    await serviceUnit(
      parseServeArgs([
        "lab.toml",
        "--print-systemd-unit",
        "--no-record",
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        "key.pem",
      ]),
      EXEC,
      (m) => warnings.push(m),
    );
    assert.equal(warnings.length, 3, warnings.join("\n"));
    assert.match(warnings[1]!, new RegExp(`^the service cannot see ${dir}/cert\\.pem: `));
    assert.match(warnings[2]!, new RegExp(`^the service cannot see ${dir}/key\\.pem: `));
    // and the certificate and key the config's [server] names, which the service reads too
    warnings.length = 0;
    await Deno.writeTextFile(
      "tls.toml",
      `[server]\ntls_cert = "${dir}/c.pem"\ntls_key = "/home/ada/k.pem"\n${DEVICES}`,
    );
    await serviceUnit(
      parseServeArgs(["tls.toml", "--print-systemd-unit", "--no-record"]),
      EXEC,
      (m) => warnings.push(m),
    );
    assert.equal(warnings.length, 3, warnings.join("\n"));
    assert.match(warnings[1]!, new RegExp(`^the service cannot see ${dir}/c\\.pem: `));
    assert.match(warnings[2]!, /^the service cannot see \/home\/ada\/k\.pem: /);
    // a relative path in the config is the config's folder's, not the folder serve ran in
    warnings.length = 0;
    const elsewhere = await Deno.makeTempDir({ prefix: "labwire-unit-cwd-" });
    const here = Deno.cwd();
    try {
      Deno.chdir(elsewhere);
      await Deno.writeTextFile(
        `${dir}/rel.toml`,
        `[server]\ntls_cert = "c.pem"\ntls_key = "keys/k.pem"\n${DEVICES}`,
      );
      await serviceUnit(
        parseServeArgs([`${dir}/rel.toml`, "--print-systemd-unit", "--no-record"]),
        EXEC,
        (m) => warnings.push(m),
      );
    } finally {
      Deno.chdir(here);
      await Deno.remove(elsewhere, { recursive: true });
    }
    assert.equal(warnings.length, 3, warnings.join("\n"));
    assert.match(warnings[1]!, new RegExp(`^the service cannot see ${dir}/c\\.pem: `));
    assert.match(warnings[2]!, new RegExp(`^the service cannot see ${dir}/keys/k\\.pem: `));
  });
  assert.deepEqual(
    hiddenFromService(["/etc/labwire/labwire.toml", "/home/ada/lab.toml", "/tmpfile", "/root"]),
    ["/home/ada/lab.toml", "/root"],
  );
});
