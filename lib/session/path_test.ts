import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { ConfigError } from "../device/errors.ts";
import { sessionPath } from "./path.ts";

Deno.test("sessionPath: flag, then [session] path relative to the config, then beside the config", () => {
  const bare = parseConfig("", "/lab/bench.toml");
  assert.equal(sessionPath(bare, "x.sqlite"), "x.sqlite");
  assert.equal(sessionPath(bare), "/lab/bench.session.sqlite");
  const withPath = parseConfig('[session]\npath = "data/run.sqlite"\n', "/lab/bench.toml");
  assert.equal(sessionPath(withPath), "/lab/data/run.sqlite");
  const abs = parseConfig('[session]\npath = "/srv/run.sqlite"\n', "/lab/bench.toml");
  assert.equal(sessionPath(abs), "/srv/run.sqlite");
  assert.equal(
    sessionPath(parseConfig("", "<demo bench>"), undefined, true),
    "labwire-demo.session.sqlite",
  );
  assert.equal(sessionPath({ devices: [], sections: {} }), "labwire.session.sqlite");
});

Deno.test("sessionPath: a bad [session] table names the key", () => {
  assert.throws(
    () => sessionPath(parseConfig("[session]\npth = 1\n", "b.toml")),
    (err: unknown) => err instanceof ConfigError && /session\.pth/.test(err.message),
  );
  assert.throws(
    () => sessionPath(parseConfig("[session]\npath = 3\n", "b.toml")),
    (err: unknown) => err instanceof ConfigError && /session\.path/.test(err.message),
  );
});
