/**
 * Alarm e-mails received by an independent SMTP server: Debian's python3-aiosmtpd, driven by
 * `fixtures/smtp_sink.py`, in plain, STARTTLS + AUTH and implicit TLS + AUTH modes (the TLS
 * certificates are made per run with `openssl`). Also: a hanging SMTP server does not block
 * the alarm engine, and is retried with backoff.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/load.ts";
import { AlarmEngine } from "../../lib/alarm/engine.ts";
import { parseAlarms } from "../../lib/alarm/rules.ts";
import { parseNotify } from "../../lib/alarm/notify_config.ts";
import { Notifier } from "../../lib/alarm/notifier.ts";
import { findProgram, peerTest } from "../peers.ts";
import { needsSmtp, received, startSmtp } from "./smtp_sink.ts";

const OPENSSL = findProgram("openssl");

const needsTls = () => [...needsSmtp(), ...(OPENSSL ? [] : ["openssl"])];

/** Makes a CA and a server certificate for localhost/127.0.0.1 signed by it. */
async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(OPENSSL!, {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=labwire test CA",
  );
  await run("req", ...ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost");
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await run(
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "2",
    "-extfile",
    "leaf.ext",
  );
  return { ca: `${dir}/ca.pem`, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}

/** A bench config with one device and one alarm, plus the given `[notify]` TOML. */
function benchConfig(notify: string) {
  return parseConfig(
    `
[devices.oven]
address = "sim://oven"
[[alarms]]
device = "oven"
attr = "temperature"
compare = ">"
trip = 300
severity = "major"
message = "oven at {value} °C, above {trip} °C"
${notify}`,
    "lab.toml",
  );
}

/**
 * The `[notify.smtp]` table of a sink at `host`:`port` with `security`, from
 * labwire@example.org; the lines that follow it go on the table.
 */
function smtpTable(port: number, security: string, host = "127.0.0.1"): string {
  return `[notify.smtp]
host = "${host}"
port = ${port}
security = "${security}"
from = "labwire@example.org"`;
}

/** The alarm engine of `config` with its notifier on every transition, both logging into `log`. */
function mailAlarms(config: ReturnType<typeof benchConfig>, log: string[]) {
  const notifier = Notifier.fromConfig(parseNotify(config), { log: (l) => log.push(l) });
  const engine = new AlarmEngine(parseAlarms(config), { log: (l) => log.push(l), now: 0 });
  engine.on((e) => notifier.notify(e));
  return { notifier, engine };
}

/** Runs `fn` with certificates made in a fresh directory, removed after. */
async function withCerts(
  fn: (certs: { ca: string; cert: string; key: string }, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-certs-" });
  try {
    await fn(await makeCerts(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The SMTP sink over TLS (`tls`) or STARTTLS with `certs`, accepting `user` with `password`. */
function startSecureSmtp(
  mode: "tls" | "starttls",
  certs: { cert: string; key: string },
  user: string,
  password: string,
) {
  return startSmtp([
    "--mode",
    mode,
    "--cert",
    certs.cert,
    "--key",
    certs.key,
    "--user",
    user,
    "--password",
    password,
  ]);
}

peerTest("an alarm e-mail reaches aiosmtpd over a plain connection", needsSmtp, async () => {
  const smtp = await startSmtp(["--mode", "plain"]);
  const log: string[] = [];
  try {
    const config = benchConfig(`
${smtpTable(smtp.port, "plain")}
[[notify.sinks]]
type = "email"
to = ["oncall@example.org", "lab@example.org"]
min_severity = "major"
`);
    const { notifier, engine } = mailAlarms(config, log);
    engine.observe({ t: 1000, device: "oven", values: { temperature: 301.5 } });
    await notifier.drained();
    await notifier.close();
    const mails = await received(smtp.dir);
    assert.equal(mails.length, 1, log.join("\n"));
    const m = mails[0]!;
    assert.equal(m.meta.mail_from, "labwire@example.org");
    assert.deepEqual(m.meta.rcpt_tos, ["oncall@example.org", "lab@example.org"]);
    assert.match(
      m.headers.get("subject")!,
      /^\[labwire .+\] MAJOR active: oven\.temperature > 300 \(oven\)$/,
    );
    assert.equal(m.headers.get("from"), "labwire@example.org");
    assert.match(m.headers.get("date")!, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    assert.match(m.headers.get("message-id")!, /^<[0-9a-f-]{36}@example\.org>$/);
    assert.match(
      m.body,
      /alarm MAJOR active oven\.temperature > 300: oven at 301\.5 °C, above 300 °C/,
    );
    assert.equal(notifier.stats()[0]!.delivered, 1);
  } finally {
    await smtp.stop();
  }
});

peerTest("STARTTLS + AUTH with the password from an environment variable", needsTls, async () => {
  await withCerts(async (certs) => {
    const password = "correct horse battery staple";
    const smtp = await startSecureSmtp("starttls", certs, "labwire", password);
    const log: string[] = [];
    Deno.env.set("LABWIRE_TEST_SMTP_PASSWORD", password);
    try {
      const config = benchConfig(`
${smtpTable(smtp.port, "starttls", "localhost")}
user = "labwire"
password_env = "LABWIRE_TEST_SMTP_PASSWORD"
ca_file = "${certs.ca}"
[[notify.sinks]]
type = "email"
to = "oncall@example.org"
`);
      assert.ok(
        !JSON.stringify(parseNotify(config)).includes(password),
        "the config holds no secret",
      );
      const { notifier, engine } = mailAlarms(config, log);
      engine.observe({ t: 1000, device: "oven", values: { temperature: 350 } });
      engine.observe({ t: 1001, device: "oven", values: { temperature: 20 } });
      await notifier.drained();
      await notifier.close();
      const mails = await received(smtp.dir);
      assert.ok(mails.length >= 1 && mails.length <= 2, log.join("\n"));
      const all = mails.map((m) => m.body).join("\n");
      assert.match(all, /MAJOR active oven\.temperature > 300/);
      assert.match(all, /MAJOR cleared oven\.temperature > 300/);
      for (const m of mails) {
        assert.equal(m.meta.tls, true, "the message travelled over TLS");
        assert.equal(m.meta.authenticated, true);
        assert.equal(m.meta.login, "labwire");
      }
      assert.ok(log.every((l) => !l.includes(password)), "the password is never logged");
    } finally {
      Deno.env.delete("LABWIRE_TEST_SMTP_PASSWORD");
      await smtp.stop();
    }
  });
});

peerTest(
  "implicit TLS + AUTH with a password file carries the digest e-mail",
  needsTls,
  async () => {
    await withCerts(async (certs, certDir) => {
      const password = "pw-from-file";
      await Deno.writeTextFile(`${certDir}/smtp-password`, `${password}\n`);
      const smtp = await startSecureSmtp("tls", certs, "lab", password);
      try {
        const config = benchConfig(`
${smtpTable(smtp.port, "tls")}
user = "lab"
password_file = "${certDir}/smtp-password"
ca_file = "${certs.ca}"
[notify.digest]
every = "24h"
to = ["lab@example.org"]
`);
        const notifier = Notifier.fromConfig(parseNotify(config), { log: () => {} });
        const engine = new AlarmEngine(parseAlarms(config), { log: () => {}, now: Date.now() });
        engine.on((e) => notifier.notify(e));
        const now = Date.now() / 1000;
        engine.observe({ t: now, device: "oven", values: { temperature: 310 } });
        engine.observe({ t: now + 0.001, device: "oven", values: { temperature: 299 } });
        engine.observe({ t: now + 0.002, device: "oven", values: { temperature: 305 } });
        notifier.startDigest(engine, (_d, a) => a === "temperature" ? "°C" : undefined);
        notifier.sendDigest(Date.now() + 10);
        await notifier.drained();
        await notifier.close();
        const mails = await received(smtp.dir);
        assert.equal(mails.length, 1);
        const m = mails[0]!;
        assert.equal(m.meta.tls, true);
        assert.equal(m.meta.login, "lab");
        assert.deepEqual(m.meta.rcpt_tos, ["lab@example.org"]);
        assert.match(m.headers.get("subject")!, /digest: 1 active alarm, 3 transitions/);
        assert.match(m.body, /oven at .*: temperature = 305 °C/);
        assert.match(m.body, /MAJOR oven\.temperature > 300 since/);
        assert.equal(m.body.match(/alarm MAJOR (active|cleared) oven\.temperature/g)?.length, 3);
      } finally {
        await smtp.stop();
      }
    });
  },
);

peerTest("a wrong password is retried with backoff, logged, then given up", needsTls, async () => {
  await withCerts(async (certs) => {
    const smtp = await startSecureSmtp("tls", certs, "lab", "right");
    Deno.env.set("LABWIRE_TEST_SMTP_WRONG", "wrong");
    const log: string[] = [];
    const delays: number[] = [];
    try {
      const config = benchConfig(`
${smtpTable(smtp.port, "tls")}
user = "lab"
password_env = "LABWIRE_TEST_SMTP_WRONG"
ca_file = "${certs.ca}"
[[notify.sinks]]
type = "email"
to = "oncall@example.org"
retries = 2
`);
      const notifier = Notifier.fromConfig(parseNotify(config), {
        log: (l) => log.push(l),
        queue: { sleep: (ms) => (delays.push(ms), Promise.resolve()) },
      });
      notifier.notify({
        t: 1,
        name: "x",
        kind: "threshold",
        device: "oven",
        attr: "temperature",
        severity: "major",
        state: "active",
        value: 301,
        message: "m",
      });
      await notifier.drained();
      await notifier.close();
      assert.deepEqual(delays, [1000, 2000]);
      assert.equal(notifier.stats()[0]!.failed, 1);
      assert.match(log[0]!, /refused AUTH PLAIN: 535/);
      assert.match(log.at(-1)!, /failed 3 times: .*535.*giving up/);
      assert.ok(log.every((l) => !l.includes("wrong")), "the password is never logged");
      assert.equal((await received(smtp.dir)).length, 0);
    } finally {
      Deno.env.delete("LABWIRE_TEST_SMTP_WRONG");
      await smtp.stop();
    }
  });
});

Deno.test("a hanging SMTP server never blocks observe(); close() gives up in bounded time", async () => {
  // Accepts connections and never says a word: the worst kind of mail server.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) held.push(c);
    } catch {
      // listener closed
    }
  })();
  const log: string[] = [];
  try {
    const config = benchConfig(`
${smtpTable((listener.addr as Deno.NetAddr).port, "plain")}
timeout = "100ms"
[[notify.sinks]]
type = "email"
to = "oncall@example.org"
timeout = "100ms"
queue = 10
`);
    const notifier = Notifier.fromConfig(parseNotify(config), {
      log: (l) => log.push(l),
      queue: { baseDelay: 10, maxDelay: 20 },
    });
    const engine = new AlarmEngine(parseAlarms(config), { log: () => {}, now: 0 });
    engine.on((e) => notifier.notify(e));
    let samples = 0;
    for (let i = 0; i < 20_000; i++) {
      engine.observe({
        t: i / 1000,
        device: "oven",
        values: { temperature: i % 100 === 0 ? 400 : 20 },
      });
      samples++;
    }
    assert.equal(samples, 20_000, "every sample was observed while the server hangs");
    assert.equal(engine.history().length, 400);
    // Wait (bounded) until at least one attempt has timed out and been scheduled for retry.
    for (let i = 0; i < 200 && notifier.stats()[0]!.retried < 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await notifier.close(200);
    const s = notifier.stats()[0]!;
    assert.equal(s.delivered, 0);
    assert.ok(s.retried >= 1, `retried ${s.retried}`);
    assert.ok(
      log.some((l) => /no answer within 100 ms; retrying in 10 ms/.test(l)),
      log.join("\n"),
    );
    assert.ok(s.dropped > 0, "the backlog stayed bounded");
  } finally {
    listener.close();
    await accepting;
    for (const c of held) c.close();
  }
});
