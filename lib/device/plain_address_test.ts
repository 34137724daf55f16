import assert from "node:assert/strict";
import { hasOptions, NO_PARAMS, plainAddresses } from "./plain_address.ts";
import { parseAddress } from "./address.ts";

Deno.test("a plain address shares the one set of options nothing may change", () => {
  const [a, b] = plainAddresses(["ca://A", "ca://B"])!;
  assert.equal(a!.params, NO_PARAMS);
  assert.equal(b!.params, NO_PARAMS);
  assert.equal(hasOptions(a!), false);
  assert.throws(() => NO_PARAMS.set("timeout", "1s"), TypeError);
  assert.equal(NO_PARAMS.size, 0);
});

Deno.test("hasOptions tells an address with ?key=value options", () => {
  assert.equal(hasOptions(parseAddress("sim://gauge?seed=3")), true);
  assert.equal(hasOptions(parseAddress("sim://gauge?")), false);
  assert.equal(hasOptions(parseAddress("sim://gauge")), false);
});
