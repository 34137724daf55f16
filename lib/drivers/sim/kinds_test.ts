import assert from "node:assert/strict";
import { SIM_KINDS, simKindsHelp } from "./kinds.ts";

Deno.test("the help lists every kind with its summary and options", () => {
  const help = simKindsHelp();
  for (const k of SIM_KINDS) {
    assert.ok(help.includes(`sim://${k.kind}`), k.kind);
    assert.ok(help.includes(k.summary), k.kind);
    for (const o of Object.keys(k.options)) assert.ok(help.includes(`${o}=`), `${k.kind} ${o}`);
  }
  assert.match(help, /every kind: seed= .*latency= .*disconnect_for=/);
});
