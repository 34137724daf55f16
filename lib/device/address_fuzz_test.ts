import assert from "node:assert/strict";
import fc from "fast-check";
import "../drivers/mod.ts";
import { fuzzTest, onlyRejects, onlyThrows } from "../../tests/fuzz_runs.ts";
import {
  type Address,
  addressOf,
  hostPort,
  isAddress,
  parseAddress,
  plainAddresses,
} from "./address.ts";
import { ConfigError, UsageError } from "./errors.ts";
import { openDevice } from "../lab/open.ts";

/** Characters that matter to address parsing, mixed with anything. */
const addressChar = fc.oneof(
  fc.constantFrom(":", "/", "?", "#", "&", "=", "%", "[", "]", ".", " ", "@", "+"),
  fc.constantFrom("%zz", "%2", "%E0%A4%A", "%25", "%3F", "%00"),
  fc.string({ minLength: 1, maxLength: 1, unit: "grapheme" }),
  fc.stringMatching(/^[0-9a-f]{1,3}$/),
);
const addressTail = fc.array(addressChar, { maxLength: 20 }).map((a) => a.join(""));
const scheme = fc.oneof(
  fc.constantFrom("sim", "baratron", "ca", "SIM", "http", "x+y"),
  fc.stringMatching(/^[a-z][a-z0-9+.-]{0,6}$/),
);
/** Mostly address-shaped text, sometimes anything. */
const addressText = fc.oneof(
  fc.string(),
  fc.tuple(scheme, addressTail).map(([s, t]) => `${s}://${t}`),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
);

fuzzTest("parseAddress: any text is an Address or a UsageError", addressText, (text) => {
  const a = onlyThrows([UsageError], () => parseAddress(text));
  if (a === undefined) return;
  assert.ok(isAddress(a.text), `${a.text} parsed but isAddress says no`);
  assert.notEqual(a.target, "");
  assert.equal(a.scheme, a.scheme.toLowerCase());
});

fuzzTest(
  "addressOf: what isAddress then parseAddress give, a name's undefined or the same UsageError",
  fc.tuple(fc.constantFrom("", " ", "\t"), addressText, fc.constantFrom("", " ", "\n")).map((
    [before, text, after],
  ) => before + text + after),
  (text) => {
    let expected: Address | undefined | UsageError;
    try {
      expected = isAddress(text) ? parseAddress(text) : undefined;
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      expected = err;
    }
    if (expected instanceof UsageError) {
      assert.throws(
        () => addressOf(text),
        (err) => err instanceof UsageError && err.message === expected.message,
      );
    } else {
      // Twice: the first reading of an address primes the short way for its scheme (the
      // previous text's scheme otherwise), the second takes it.
      assert.deepEqual(addressOf(text), expected);
      assert.deepEqual(addressOf(text), expected);
    }
  },
);

/** A plain target of one scheme, or one that is not (options, a space, a newline at its end). */
const listTarget = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9:._-]{1,12}$/),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9:]{0,4}$/), addressTail).map(([a, b]) => a + b),
  fc.constantFrom("a\nca://b", "a\n", "\nb", "é", "a é", "a%41", "a ", "a\u007f"),
);
/** Lists of texts: mostly `ca://` targets, sometimes one of another scheme or a name. */
const addressList = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: listTarget.map((t) => `ca://${t}`) },
    { weight: 1, arbitrary: addressText },
    { weight: 1, arbitrary: listTarget.map((t) => `sim://${t}`) },
  ),
  { maxLength: 8 },
);

fuzzTest(
  "plainAddresses: undefined, or for each text what addressOf gives",
  addressList,
  (texts) => {
    const plain = plainAddresses(texts);
    if (plain === undefined) return;
    assert.equal(plain.length, texts.length);
    for (let i = 0; i < texts.length; i++) {
      assert.deepEqual(plain[i], addressOf(texts[i]!));
      assert.deepEqual(plain[i], parseAddress(texts[i]!));
    }
  },
);

/** The parts an address is made of, to build text from and expect back. */
const addressParts = fc.record({
  scheme: fc.stringMatching(/^[a-z][a-z0-9+.-]{0,8}$/),
  target: fc.string({ minLength: 1, maxLength: 30, unit: "grapheme" }).filter((t) =>
    t.trim() === t && t !== ""
  ),
  params: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), {
    maxLength: 4,
  }),
});

fuzzTest("parseAddress: scheme, target and options round-trip", addressParts, (p) => {
  const query = new URLSearchParams(p.params).toString();
  const text = `${p.scheme}://${encodeURIComponent(p.target)}${query ? `?${query}` : ""}`;
  const a: Address = parseAddress(text);
  assert.equal(a.scheme, p.scheme);
  assert.equal(a.target, p.target);
  assert.deepEqual([...a.params], p.params);
});

fuzzTest(
  "hostPort: any target is a host and a port 1–65535, or a UsageError",
  fc.oneof(addressTail, fc.string(), fc.ipV6().map((ip) => `[${ip}]:${ip.length * 997}`)),
  (target) => {
    const hp = onlyThrows([UsageError], () => hostPort(target, 80));
    if (hp === undefined) return;
    assert.ok(Number.isInteger(hp.port) && hp.port >= 1 && hp.port <= 65535, `${hp.port}`);
    assert.notEqual(hp.host, "");
  },
);

fuzzTest(
  "hostPort: host and port round-trip",
  fc.tuple(
    fc.oneof(fc.ipV4(), fc.domain(), fc.ipV6().map((ip) => `[${ip}]`)),
    fc.integer({ min: 1, max: 65535 }),
  ),
  ([host, port]) => {
    assert.deepEqual(hostPort(`${host}:${port}`, 80), { host, port });
    assert.deepEqual(hostPort(host, 8081), { host, port: 8081 });
  },
);

// Opening does no I/O for these schemes (a gauge is first polled on read; sims are in-process),
// so every address must open or be refused as a usage mistake, never crash.
fuzzTest(
  "openDevice: sim and baratron addresses open or are refused with a UsageError",
  fc.tuple(fc.constantFrom("sim", "baratron"), addressTail),
  async ([s, tail]) => {
    const address = onlyThrows([UsageError], () => parseAddress(`${s}://${tail}`));
    if (address === undefined) return;
    const device = await onlyRejects(
      [UsageError, ConfigError],
      () => openDevice({ name: "fuzz", address, interval: 1000, options: {} }),
    );
    await device?.close();
  },
);
