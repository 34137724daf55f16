import assert from "node:assert/strict";
import { formatLogLine, stderrLogger } from "./log.ts";

Deno.test("journal lines carry syslog priorities; terminal lines spell the level", () => {
  assert.equal(formatLogLine("error", "x", true), "<3>x");
  assert.equal(formatLogLine("info", "a\nb", true), "<6>a | b");
  assert.equal(formatLogLine("warn", "x", false), "labwire serve: warn: x");
});

Deno.test("stderrLogger filters below its level and prefixes under journald", () => {
  const lines: string[] = [];
  const log = stderrLogger({ journal: true, level: "notice", write: (l) => lines.push(l) });
  log.log("debug", "hidden");
  log.log("info", "hidden too");
  log.log("notice", "listening");
  log.log("error", "boom");
  assert.deepEqual(lines, ["<5>listening", "<3>boom"]);
});
