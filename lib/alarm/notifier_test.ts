import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { ConfigError } from "../device/errors.ts";
import { AlarmEngine } from "./engine.ts";
import type { AlarmEvent, Severity } from "./event.ts";
import { Notifier } from "./notifier.ts";
import { parseNotify } from "./notify_config.ts";
import { aboveZeroRule } from "../../tests/fixtures/alarm_rules.ts";

function event(severity: Severity, state: "active" | "cleared" = "active"): AlarmEvent {
  return {
    t: 1,
    name: `${severity}-${state}`,
    kind: "threshold",
    device: "oven",
    attr: "temp",
    severity,
    state,
    value: 1,
    message: "m",
  };
}

Deno.test("events reach the sinks whose min_severity they meet; cleared ones only if wanted", async () => {
  const got: Record<string, string[]> = { all: [], major: [], activeOnly: [] };
  const sink = (name: string, minSeverity: Severity, cleared: boolean) => ({
    name,
    minSeverity,
    cleared,
    deliver: (events: AlarmEvent[]) => {
      got[name]!.push(...events.map((e) => e.name));
      return Promise.resolve();
    },
  });
  const notifier = new Notifier([
    sink("all", "minor", true),
    sink("major", "major", true),
    sink("activeOnly", "minor", false),
  ], { log: () => {} });
  for (const s of ["minor", "major", "invalid"] as const) {
    notifier.notify(event(s));
    notifier.notify(event(s, "cleared"));
  }
  await notifier.close();
  assert.deepEqual(got.all, [
    "minor-active",
    "minor-cleared",
    "major-active",
    "major-cleared",
    "invalid-active",
    "invalid-cleared",
  ]);
  assert.deepEqual(got.major, [
    "major-active",
    "major-cleared",
    "invalid-active",
    "invalid-cleared",
  ]);
  assert.deepEqual(got.activeOnly, ["minor-active", "major-active", "invalid-active"]);
  assert.deepEqual(notifier.stats().map((s) => [s.name, s.delivered]), [
    ["all", 6],
    ["major", 4],
    ["activeOnly", 3],
  ]);
});

Deno.test("a hanging sink does not delay observe() or the other sinks", async () => {
  const fast: string[] = [];
  const notifier = new Notifier([
    {
      name: "hangs",
      minSeverity: "minor",
      cleared: true,
      deliver: (_e, signal) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      queue: { capacity: 5, timeout: 60_000 },
    },
    {
      name: "fast",
      minSeverity: "minor",
      cleared: true,
      deliver: (events) => (fast.push(...events.map((e) => e.name)), Promise.resolve()),
      queue: { capacity: 1000 },
    },
  ], { log: () => {} });
  const engine = new AlarmEngine(aboveZeroRule("hot", "oven", "temp"), { log: () => {}, now: 0 });
  engine.on((e) => notifier.notify(e));
  // 400 transitions, fed synchronously: every observe() returns without waiting for any sink.
  for (let i = 0; i < 400; i++) {
    engine.observe({ t: i, device: "oven", values: { temp: (i + 1) % 2 } });
  }
  assert.equal(engine.history().length, 400);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(fast.length, 400, "the healthy sink got everything");
  const hangs = notifier.stats()[0]!;
  assert.equal(hangs.delivered, 0);
  assert.equal(hangs.dropped, 400 - 5, "the hanging sink kept only its bounded queue");
  await notifier.close(20);
  assert.equal(notifier.stats()[0]!.failed, 5);
});

Deno.test("fromConfig reads the SMTP password now and fails clearly when it is missing", () => {
  const config = parseConfig(
    `
[notify.smtp]
host = "127.0.0.1"
from = "lab@example.org"
user = "lab"
password_env = "LABWIRE_TEST_NO_SUCH_VARIABLE"
[[notify.sinks]]
type = "email"
to = "me@example.org"
`,
    "lab.toml",
  );
  Deno.env.delete("LABWIRE_TEST_NO_SUCH_VARIABLE");
  assert.throws(() => Notifier.fromConfig(parseNotify(config), { file: "lab.toml" }), (err) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.key, "notify.smtp.password_env");
    assert.match(err.message, /LABWIRE_TEST_NO_SUCH_VARIABLE is not set/);
    return true;
  });
});

Deno.test("password_file and ca_file are found beside the config file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-notify-" });
  try {
    const text = `
[notify.smtp]
host = "127.0.0.1"
from = "lab@example.org"
user = "lab"
password_file = "secrets/smtp"
[[notify.sinks]]
type = "email"
to = "me@example.org"
`;
    const file = `${dir}/lab.toml`;
    assert.throws(
      () => Notifier.fromConfig(parseNotify(parseConfig(text, file)), { file }),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.key, "notify.smtp.password_file");
        assert.ok(err.message.includes(`${dir}/secrets/smtp`), err.message);
        return true;
      },
    );
    await Deno.mkdir(`${dir}/secrets`);
    await Deno.writeTextFile(`${dir}/secrets/smtp`, "pw\n");
    const notifier = Notifier.fromConfig(parseNotify(parseConfig(text, file)), { file });
    assert.deepEqual(notifier.stats().map((s) => s.name), ["email"]);
    await notifier.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
