import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { ConfigError } from "../device/errors.ts";
import { parseNotify } from "./notify_config.ts";

const SMTP = `
[notify.smtp]
host = "smtp.example.org"
from = "lab@example.org"
user = "lab"
password_env = "LAB_SMTP"
`;

function notify(text: string) {
  return parseNotify(parseConfig(text, "lab.toml"));
}

function rejects(text: string, key: string, pattern: RegExp): void {
  assert.throws(() => notify(text), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.key, key);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("[notify] parses the SMTP server, sinks with defaults and the digest", () => {
  const cfg = notify(`${SMTP}
[[notify.sinks]]
type = "email"
to = ["a@example.org", "b@example.org"]
min_severity = "major"
[[notify.sinks]]
type = "webhook"
url = "http://127.0.0.1:9/hook"
headers = { "X-Token" = "t" }
cleared = false
retries = 2
[[notify.sinks]]
type = "command"
command = ["logger", "-t", "labwire"]
timeout = "5s"
queue = 10
[[notify.sinks]]
type = "command"
name = "pager"
command = ["page"]
[notify.digest]
every = "24h"
to = "lab@example.org"
`);
  assert.deepEqual(cfg.smtp, {
    host: "smtp.example.org",
    port: 587,
    security: "starttls",
    from: "lab@example.org",
    user: "lab",
    password: { env: "LAB_SMTP" },
    timeout: 30_000,
  });
  assert.deepEqual(cfg.sinks.map((s) => [s.name, s.type, s.minSeverity, s.cleared]), [
    ["email", "email", "major", true],
    ["webhook", "webhook", "minor", false],
    ["command#2", "command", "minor", true],
    ["pager", "command", "minor", true],
  ]);
  assert.deepEqual([cfg.sinks[1]!.retries, cfg.sinks[2]!.timeout, cfg.sinks[2]!.queue], [
    2,
    5000,
    10,
  ]);
  assert.deepEqual(cfg.digest, { every: 86_400_000, to: ["lab@example.org"] });
  const hook = notify(`[[notify.sinks]]
type = "webhook"
url_env = "LAB_HOOK_URL"
headers_env = { Authorization = "LAB_HOOK_AUTH" }
`).sinks[0]!;
  assert.ok(hook.type === "webhook");
  assert.deepEqual([hook.url, hook.urlEnv, hook.headersEnv, hook.key], [
    undefined,
    "LAB_HOOK_URL",
    { Authorization: "LAB_HOOK_AUTH" },
    "notify.sinks[0]",
  ]);
  assert.deepEqual(notify(""), { sinks: [] });
  assert.equal(notify(`[notify.smtp]\nhost = "h"\nfrom = "a@b"\nsecurity = "tls"`).smtp!.port, 465);
});

Deno.test("[notify] errors name the key and what was expected", () => {
  rejects(`[notify]\nsmtpp = 1`, "notify.smtpp", /did you mean "smtp"/);
  rejects(`[notify.smtp]\nfrom = "a@b"`, "notify.smtp.host", /expected host/);
  rejects(`[notify.smtp]\nhost = "h"\nfrom = "nobody"`, "notify.smtp.from", /e-mail address/);
  rejects(
    `[notify.smtp]\nhost = "h"\nfrom = "a@b"\nsecurity = "ssl"`,
    "notify.smtp.security",
    /"starttls"/,
  );
  rejects(`[notify.smtp]\nhost = "h"\nfrom = "a@b"\nport = 70000`, "notify.smtp.port", /1–65535/);
  rejects(
    `[notify.smtp]\nhost = "h"\nfrom = "a@b"\nsecurity = "plain"\nuser = "u"\npassword_env = "P"`,
    "notify.smtp.security",
    /password in clear/,
  );
  rejects(
    `[notify.smtp]\nhost = "h"\nfrom = "a@b"\nuser = "u"`,
    "notify.smtp.password_env",
    /one of password_env/,
  );
  rejects(
    `[notify.smtp]\nhost = "h"\nfrom = "a@b"\nuser = "u"\npassword_env = "hunter2 is my password"`,
    "notify.smtp.password_env",
    /NAME of an environment variable/,
  );
  rejects(
    `[notify.smtp]\nhost = "h"\nfrom = "a@b"\npassword_file = "/x"`,
    "notify.smtp.user",
    /needs a user/,
  );
  rejects(`[notify]\nsinks = 1`, "notify.sinks", /\[\[notify\.sinks\]\]/);
  rejects(`[[notify.sinks]]\ntype = "mail"`, "notify.sinks[0].type", /did you mean "email"/);
  rejects(
    `[[notify.sinks]]\ntype = "email"\nto = "a@b"`,
    "notify.sinks[0].type",
    /needs a \[notify\.smtp\]/,
  );
  rejects(`${SMTP}[[notify.sinks]]\ntype = "email"`, "notify.sinks[0].to", /expected to =/);
  rejects(
    `${SMTP}[[notify.sinks]]\ntype = "email"\nto = ["x"]`,
    "notify.sinks[0].to[0]",
    /e-mail address/,
  );
  rejects(`[[notify.sinks]]\ntype = "webhook"\nurl = "ftp://x"`, "notify.sinks[0].url", /https:/);
  rejects(`[[notify.sinks]]\ntype = "webhook"`, "notify.sinks[0].url", /url_env/);
  rejects(
    `[[notify.sinks]]\ntype = "webhook"\nurl = "http://x"\nurl_env = "HOOK"`,
    "notify.sinks[0].url",
    /one of url/,
  );
  rejects(
    `[[notify.sinks]]\ntype = "webhook"\nurl_env = "https://hooks.example.org/T0/B1/secret"`,
    "notify.sinks[0].url_env",
    /NAME of an environment variable/,
  );
  rejects(
    `[[notify.sinks]]\ntype = "webhook"\nurl = "http://x"\nheaders_env = { Authorization = "Bearer abc" }`,
    "notify.sinks[0].headers_env.Authorization",
    /NAME of an environment variable/,
  );
  rejects(
    `[[notify.sinks]]\ntype = "webhook"\nurl = "http://x"\nto = ["a@b"]`,
    "notify.sinks[0].to",
    /unknown key/,
  );
  rejects(
    `[[notify.sinks]]\ntype = "command"\ncommand = "logger -t x"`,
    "notify.sinks[0].command",
    /no shell/,
  );
  rejects(
    `[[notify.sinks]]\ntype = "command"\ncommand = ["x"]\nmin_severity = "mjaor"`,
    "notify.sinks[0].min_severity",
    /"major"/,
  );
  rejects(
    `[[notify.sinks]]\ntype = "command"\ncommand = ["x"]\nretries = -1`,
    "notify.sinks[0].retries",
    /whole number/,
  );
  rejects(
    `[[notify.sinks]]\ntype = "command"\ncommand = ["x"]\ncleared = "no"`,
    "notify.sinks[0].cleared",
    /true or false/,
  );
  rejects(`[notify.digest]\nevery = "24h"\nto = "a@b"`, "notify.digest", /\[notify\.smtp\]/);
  rejects(`${SMTP}[notify.digest]\nto = "a@b"`, "notify.digest.every", /every = "24h"/);
  rejects(
    `${SMTP}[notify.digest]\nevery = "100d"\nto = "a@b"`,
    "notify.digest.every",
    /between 1s and 24d/,
  );
});
