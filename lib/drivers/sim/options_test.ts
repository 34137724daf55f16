import assert from "node:assert/strict";
import { SimOptions } from "./options.ts";
import { UsageError } from "../../device/errors.ts";
import { parseAddress } from "../../device/address.ts";
import { createSim } from "./driver.ts";

const accepted = { velocity: "speed", units: "units" };

Deno.test("options come from the address, over the config table", () => {
  const o = new SimOptions("motor", new URLSearchParams("velocity=5"), accepted, {
    velocity: 2,
    seed: 7,
  });
  assert.equal(o.number("velocity", 10), 5);
  assert.equal(o.integer("seed", 0), 7);
  assert.equal(o.number("units", 3), 3, "absent → default");
});

Deno.test("an unknown option is a usage error naming it, with a suggestion", () => {
  // Option names are checked by the config schema when a sim device is created.
  assert.throws(
    () => createSim(parseAddress("sim://motor?velocty=5")),
    (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /unknown option "velocty"/);
      assert.equal(e.hint, 'did you mean "velocity"?');
      return true;
    },
  );
  assert.throws(
    () => createSim(parseAddress("sim://motor"), { options: { velocty: 5 } }),
    /unknown option "velocty"/,
  );
});

Deno.test("common options (faults, seed, strict, timeout) are accepted by every kind", () => {
  const o = new SimOptions(
    "gauge",
    new URLSearchParams("seed=1&strict=1&timeout=2s&latency=5ms&error_rate=0.1"),
    {},
  );
  assert.equal(o.flag("strict"), true);
  assert.equal(o.record().latency, "5ms");
});

Deno.test("bad values are usage errors saying what was expected", () => {
  const o = new SimOptions("motor", new URLSearchParams("velocity=fast&units=furlong"), accepted);
  assert.throws(() => o.number("velocity", 1), /velocity must be a number, got "fast"/);
  assert.throws(() => o.choice("units", "mm", ["mm", "deg"]), /must be one of mm, deg/);
  const p = new SimOptions("motor", new URLSearchParams("velocity=-3&units=2.5"), accepted);
  assert.throws(() => p.number("velocity", 1, 0, 10), /in 0…10/);
  assert.throws(() => p.integer("units", 1), /must be an integer/);
  assert.throws(
    () => new SimOptions("g", new URLSearchParams("strict=maybe"), {}).flag("strict"),
    /must be 1 or 0/,
  );
});
