import assert from "node:assert/strict";
import { ECA, ecaMessage, ecaName, ecaSeverity, isEcaSuccess } from "./eca.ts";

Deno.test("ECA codes match caerr.h (facts sheet values)", () => {
  const expected: Record<string, number> = {
    NORMAL: 1,
    ALLOCMEM: 48,
    TOLARGE: 72,
    TIMEOUT: 80,
    STRTOBIG: 96,
    DISCONNCHID: 106,
    BADTYPE: 114,
    INTERNAL: 142,
    GETFAIL: 152,
    PUTFAIL: 160,
    ADDFAIL: 168,
    BADCOUNT: 176,
    BADSTR: 186,
    DISCONN: 192,
    BADMASK: 330,
    NORDACCESS: 368,
    NOWTACCESS: 376,
    NOCONVERT: 400,
    BADCHID: 410,
    UNAVAILINSERV: 432,
    "16KARRAYCLIENT": 464,
  };
  for (const [name, code] of Object.entries(expected)) {
    assert.equal(ECA[name as keyof typeof ECA], code, name);
    assert.equal(ecaName(code), `ECA_${name}`);
  }
  assert.equal(ecaMessage(ECA.NOWTACCESS), "Write access denied");
  assert.equal(ecaSeverity(ECA.INTERNAL), 6);
  assert.ok(isEcaSuccess(ECA.NORMAL));
  assert.ok(!isEcaSuccess(ECA.GETFAIL));
  assert.equal(ecaName(9999), "ECA_9999");
});
