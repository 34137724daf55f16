import assert from "node:assert/strict";
import { besideConfig } from "./beside_config.ts";

Deno.test("besideConfig: a relative path is the config file's folder's; absolute, or no file on disk, as written", () => {
  assert.equal(besideConfig("data/run.sqlite", "/lab/bench.toml"), "/lab/data/run.sqlite");
  assert.equal(besideConfig("../keys/k.pem", "/etc/labwire/labwire.toml"), "/etc/keys/k.pem");
  assert.equal(besideConfig("/srv/k.pem", "/etc/labwire/labwire.toml"), "/srv/k.pem");
  // a config file named without a folder: its folder is the current one
  assert.equal(besideConfig("k.pem", "labwire.toml"), "k.pem");
  // no config file, or a built-in bench's label: nothing to be relative to
  assert.equal(besideConfig("k.pem", undefined), "k.pem");
  assert.equal(besideConfig("k.pem", "<demo bench>"), "k.pem");
});
