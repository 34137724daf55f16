import assert from "node:assert/strict";
import { ConfigError } from "../device/errors.ts";
import { applyInstrumentsSection } from "./config.ts";
import { resetInstrumentSources } from "./sources.ts";

/** Runs `fn` with HOME set to `home` (deleted when undefined), then puts it back. */
function withHome<T>(home: string | undefined, fn: () => T): T {
  const saved = Deno.env.get("HOME");
  if (home === undefined) Deno.env.delete("HOME");
  else Deno.env.set("HOME", home);
  try {
    return fn();
  } finally {
    if (saved === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", saved);
    resetInstrumentSources();
  }
}

Deno.test("[instruments] path: ~/ is $HOME; without HOME, or as ~user/, a config error naming the path", () => {
  assert.deepEqual(
    withHome("/home/ada", () => applyInstrumentsSection({ path: ["~/defs", "~"] }, "/lab/l.toml")),
    ["/home/ada/defs", "/home/ada"],
  );
  assert.throws(
    () => withHome(undefined, () => applyInstrumentsSection({ path: "~/defs" }, "/lab/l.toml")),
    (e) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        /^\/lab\/l\.toml: instruments\.path: "~\/defs" starts with ~, but HOME is not set/,
      );
      return true;
    },
  );
  assert.throws(
    () =>
      withHome("/home/ada", () => applyInstrumentsSection({ path: "~bob/defs" }, "/lab/l.toml")),
    /instruments\.path: "~bob\/defs": only ~\/ is expanded \(to \$HOME\), not ~user\//,
  );
});
