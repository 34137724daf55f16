import assert from "node:assert/strict";
import { buildDigest } from "./digest.ts";
import { humanDateTime } from "../output/time.ts";

Deno.test("the digest lists active alarms, last values with units and the period's history", () => {
  const mail = buildDigest({
    host: "lab-pc",
    since: 0,
    now: 7200,
    active: [{
      name: "oven error",
      kind: "error",
      device: "oven",
      severity: "invalid",
      since: 3600,
      value: null,
      message: "oven: 3 failed reads in a row: timeout",
    }],
    readings: [
      { t: 7199, device: "oven", values: {}, error: "timeout" },
      { t: 7199.5, device: "gauge", values: { pressure: 0.0012, status: "ok" } },
    ],
    history: [{
      t: 3600,
      name: "oven error",
      kind: "error",
      device: "oven",
      severity: "invalid",
      state: "active",
      value: null,
      message: "oven: 3 failed reads in a row: timeout",
    }],
    units: (d, a) => d === "gauge" && a === "pressure" ? "torr" : undefined,
  });
  assert.equal(mail.subject, "[labwire lab-pc] digest: 1 active alarm, 1 transition in 2 h");
  const lines = mail.text.split("\n");
  assert.ok(
    lines.includes(
      `  INVALID oven error since ${humanDateTime(3600)}: oven: 3 failed reads in a row: timeout`,
    ),
  );
  const gauge = lines.findIndex((l) => l.startsWith(`  gauge at ${humanDateTime(7199.5)}`));
  const oven = lines.findIndex((l) =>
    l.startsWith(`  oven at ${humanDateTime(7199)}: error: timeout`)
  );
  assert.ok(gauge > 0 && oven > gauge, "devices sorted by name");
  assert.match(lines[gauge]!, /pressure = 0\.0012 torr, status = "ok"$/);
  assert.ok(lines.some((l) => l.includes("alarm INVALID active oven error")));
  // People read the digest: local time with its zone, never a bare UTC "Z" time.
  assert.ok(!mail.text.includes("000Z"));
});
