import assert from "node:assert/strict";
import { loadToken, timingSafeEqualText } from "./auth.ts";
import { UsageError } from "../device/errors.ts";

Deno.test("token comparison", () => {
  assert.equal(timingSafeEqualText("abc", "abc"), true);
  assert.equal(timingSafeEqualText("abc", "abd"), false);
  assert.equal(timingSafeEqualText("abc", "abcd"), false);
  assert.equal(timingSafeEqualText("", ""), true);
});

Deno.test("the token comes from --token-file (first line), else LABWIRE_TOKEN", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-token-" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "0123456789abcdef0123\nignored\n");
    assert.equal(await loadToken(`${dir}/token`, "from-the-environment-x"), "0123456789abcdef0123");
    assert.equal(await loadToken(undefined, " from-the-environment-x "), "from-the-environment-x");
    assert.equal(await loadToken(undefined, undefined), undefined);
    assert.equal(await loadToken(undefined, ""), undefined);
    await Deno.writeTextFile(`${dir}/short`, "short\n");
    await assert.rejects(() => loadToken(`${dir}/short`, undefined), UsageError);
    await assert.rejects(
      () => loadToken(`${dir}/missing`, undefined),
      /--token-file .*missing: cannot read it/,
    );
    await assert.rejects(() => loadToken(undefined, "short"), /at least 16 characters/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
