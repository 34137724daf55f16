import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAddress } from "./address.ts";
import { UsageError } from "./errors.ts";
import { fuzzTest, onlyThrows } from "../../tests/fuzz_runs.ts";
import { visaToAddress } from "./visa.ts";

/** Resource strings: VISA's pieces in any order and count, and anything else. */
const resource = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.array(
    fc.oneof(
      fc.constantFrom("TCPIP0", "TCPIP", "ASRL1", "ASRL/dev/ttyUSB0", "ASRL0", "GPIB0", "USB0"),
      fc.constantFrom(
        "10.0.0.7",
        "::1",
        "fe80::1",
        "[::1]",
        "5025",
        "0",
        "65536",
        "SOCKET",
        "INSTR",
      ),
      fc.constantFrom("hislip0", "inst0", "", " ", "%zz", "?x=1", "#"),
      fc.string({ maxLength: 6 }),
    ),
    { minLength: 1, maxLength: 5 },
  ).map((p) => p.join("::")),
);

// What a VISA string maps to must itself be an address labwire can parse.
fuzzTest(
  "visaToAddress: any text is not VISA, an address that parses, or a UsageError",
  resource,
  (text) => {
    const m = onlyThrows([UsageError], () => visaToAddress(text));
    if (m === undefined) return;
    const a = parseAddress(m.address);
    const parts = text.trim().split("::");
    if (a.scheme === "tcp") assert.match(a.target, new RegExp(`:${parts[2]}$`), m.address);
    else if (parts[0]!.startsWith("ASRL/")) assert.equal(a.target, parts[0]!.slice(4), m.address);
    else assert.match(a.target, /^\/dev\/ttyS\d+$/);
    assert.deepEqual([...a.params], []);
  },
);
