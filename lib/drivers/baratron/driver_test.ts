import assert from "node:assert/strict";
import { parseAddress } from "../../device/address.ts";
import { UsageError, WriteRejected } from "../../device/errors.ts";
import { baratronDriver, BaratronGauge, DEFAULT_TIMEOUT_MS, toolWebUrl } from "./driver.ts";
import { startBaratronSimulators } from "./simulator.ts";

Deno.test("host forms: IPv4, IPv4:port, [IPv6]:port, names; defaultName is host[:port]", () => {
  const cases: [string, string, string][] = [
    ["baratron://10.0.0.5", "http://10.0.0.5/ToolWeb/Cmd", "10.0.0.5"],
    ["baratron://10.0.0.5:8081", "http://10.0.0.5:8081/ToolWeb/Cmd", "10.0.0.5:8081"],
    ["baratron://[::1]:8081", "http://[::1]:8081/ToolWeb/Cmd", "[::1]:8081"],
    ["baratron://[fe80::1]", "http://[fe80::1]/ToolWeb/Cmd", "[fe80::1]"],
    ["baratron://gauge-3.lab/", "http://gauge-3.lab/ToolWeb/Cmd", "gauge-3.lab"],
    ["baratron://10.0.0.5:80?timeout=2s", "http://10.0.0.5/ToolWeb/Cmd", "10.0.0.5"],
  ];
  for (const [text, url, name] of cases) {
    const a = parseAddress(text);
    assert.equal(toolWebUrl(a).url, url, text);
    assert.equal(baratronDriver.defaultName!(a), name, text);
  }
});

Deno.test("a pasted http:// prefix is taken off, not mangled", () => {
  assert.equal(
    toolWebUrl(parseAddress("baratron://http://10.0.0.5:8081")).url,
    "http://10.0.0.5:8081/ToolWeb/Cmd",
  );
});

Deno.test("bad addresses and unknown options are usage errors before any I/O", async () => {
  await assert.rejects(
    baratronDriver.open(parseAddress("baratron://10.0.0.5:99999"), { name: "g", options: {} }),
    (err: unknown) => err instanceof UsageError && /out of range/.test(err.message),
  );
  await assert.rejects(
    baratronDriver.open(parseAddress("baratron://10.0.0.5?tmeout=1s"), { name: "g", options: {} }),
    (err: unknown) =>
      err instanceof UsageError && /unknown option "tmeout"/.test(err.message) &&
      err.hint === 'did you mean "timeout"?',
  );
});

Deno.test("timeout: 1 s by default, the context's when given", async () => {
  const a = parseAddress("baratron://127.0.0.1:9");
  const d = await baratronDriver.open(a, { name: "g", options: {} }) as BaratronGauge;
  const e = await baratronDriver.open(a, { name: "g", timeout: 250, options: {} }) as BaratronGauge;
  assert.equal(d.timeoutMs, DEFAULT_TIMEOUT_MS);
  assert.equal(DEFAULT_TIMEOUT_MS, 1000);
  assert.equal(e.timeoutMs, 250);
  await d.close();
  await e.close();
});

Deno.test("unknown attribute names and writes are refused without I/O", async () => {
  const g = await baratronDriver.open(parseAddress("baratron://127.0.0.1:9"), {
    name: "g",
    options: {},
  });
  try {
    await assert.rejects(
      g.read(["presure"]),
      (err: unknown) => err instanceof UsageError && err.hint === 'did you mean "pressure"?',
    );
    await assert.rejects(g.write("pressure", 1), WriteRejected);
    assert.deepEqual(g.techniques(), []);
  } finally {
    await g.close();
  }
});

Deno.test("a host no URL can hold is a usage error, not 'Invalid URL'", async () => {
  for (const text of ["baratron://999.999.999.999", "baratron://%25", "baratron://a b"]) {
    await assert.rejects(
      baratronDriver.open(parseAddress(text), { name: "g", options: {} }),
      (err: unknown) =>
        err instanceof UsageError && /not a host name or IP address/.test(err.message),
      text,
    );
  }
});

Deno.test("readTo: a poll's values to done (all fields, or the names asked), a closed gauge's error to failed", async () => {
  const sims = await startBaratronSimulators({ count: 1 });
  const g = await baratronDriver.open(parseAddress(sims.addresses[0]!), {
    name: "g",
    options: {},
  }) as BaratronGauge;
  /** One readTo, as "done KEYS" or "failed MESSAGE". */
  const readTo = (names?: readonly string[]) =>
    new Promise<string>((settle) =>
      g.readTo(
        names,
        undefined,
        (v) => settle(`done ${Object.keys(v).join(",")}`),
        (e) => settle(`failed ${(e as Error).message}`),
      )
    );
  try {
    const all = Object.keys(await g.read()).join(",");
    assert.equal(await readTo(), `done ${all}`);
    assert.equal(await readTo(["drift", "pressure"]), "done drift,pressure");
    await g.close();
    assert.equal(await readTo(), "failed g is closed");
  } finally {
    await g.close();
    await sims.close();
  }
});

Deno.test("readTo: the poll's timeout counts from the start the caller gives", async () => {
  // A gauge that takes the connection and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const g = await baratronDriver.open(
    parseAddress(`baratron://127.0.0.1:${listener.addr.port}`),
    { name: "g", options: {}, timeout: 30_000 },
  ) as BaratronGauge;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // Started 30 s ago by the caller's clock: its 30 s are up, not 30 s from now.
    const outcome = await Promise.race([
      new Promise<string>((settle) =>
        g.readTo(
          undefined,
          undefined,
          () => settle("done"),
          (e) => settle(`failed ${(e as Error).message}`),
          performance.now() - 30_000,
        )
      ),
      new Promise<string>((settle) => timer = setTimeout(() => settle("still waiting"), 5_000)),
    ]);
    assert.match(outcome, /^failed .*no answer within 30 s/);
  } finally {
    clearTimeout(timer);
    await g.close();
    listener.close();
    for (const c of held) c.close();
    await accepting.catch(() => {});
  }
});
