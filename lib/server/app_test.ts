import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { DeviceError } from "../device/errors.ts";
import { Lab } from "../lab/lab.ts";
import { createApp } from "./app.ts";
import { StreamHub } from "./sse.ts";
import { DeviceSummarySchema } from "./schemas.ts";

const BENCH = `
[devices.motor]
address = "sim://motor?seed=3"

[devices.thermo]
address = "sim://thermo?seed=2"
`;

async function withApp(fn: (app: ReturnType<typeof createApp>, lab: Lab) => Promise<void>) {
  const lab = await Lab.open(parseConfig(BENCH, "<test>"));
  const hub = new StreamHub();
  hub.attach(lab);
  try {
    await fn(createApp({ lab, hub }), lab);
  } finally {
    hub.close();
    await lab.close();
  }
}

Deno.test("the app answers in-process with app.request (no socket)", async () => {
  await withApp(async (app) => {
    const list = await app.request("/api/devices");
    assert.equal(list.status, 200);
    assert.deepEqual((await list.json()).devices.map((d: { name: string }) => d.name), [
      "motor",
      "thermo",
    ]);
    const read = await app.request("/api/devices/thermo/read");
    assert.equal(read.status, 200);
    assert.equal(typeof (await read.json()).temperature, "number");
    const detail = await (await app.request("/api/devices/thermo")).json();
    assert.equal(detail.last.device, "thermo", "the read above is cached as the last reading");
  });
});

Deno.test("a device detail whose attrs cannot be listed says why; once listed they are kept", async () => {
  await withApp(async (app, lab) => {
    const device = lab.get("thermo").device;
    const attrs = device.attrs.bind(device);
    device.attrs = () =>
      Promise.reject(new DeviceError("no answer to the attribute list", "thermo"));
    const failed = await app.request("/api/devices/thermo");
    assert.equal(failed.status, 200);
    const body = await failed.json();
    assert.deepEqual(body.attrs, []);
    assert.match(body.attrs_error, /no answer to the attribute list/);
    device.attrs = attrs;
    const listed = await (await app.request("/api/devices/thermo")).json();
    assert.equal(listed.attrs_error, null);
    assert.ok(listed.attrs.some((a: { name: string }) => a.name === "temperature"));
    // Cached now: answered without asking the device again.
    device.attrs = () => Promise.reject(new Error("asked again"));
    const again = await app.fetch(new Request("http://localhost/api/devices/thermo"));
    assert.ok(again instanceof Response, "a cached detail is answered synchronously");
    assert.deepEqual((await again.json()).attrs, listed.attrs);
  });
});

Deno.test("writes are validated exactly like the CLI: refused writes are 422 with the message", async () => {
  await withApp(async (app, lab) => {
    const put = (value: unknown) =>
      app.request("/api/devices/motor/attrs/position", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value }),
      });
    const ok = await put("2.5");
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).value, 2.5, "text is parsed like a command-line value");
    const refused = await put(-1000);
    assert.equal(refused.status, 422);
    const attrs = await lab.get("motor").attrs();
    const min = attrs.find((a) => a.name === "position")!.min;
    assert.deepEqual(await refused.json(), {
      error: {
        code: "write_rejected",
        message: `position: -1000 is below the lower limit ${min} mm`,
      },
    });
  });
});

Deno.test("a wrong method is a 405 with Allow; an unknown path a 404", async () => {
  await withApp(async (app) => {
    const r = await app.request("/api/devices", { method: "DELETE" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "GET, POST");
    const n = await app.request("/api/nope");
    assert.equal(n.status, 404);
    assert.equal((await n.json()).error.code, "not_found");
  });
});

Deno.test("bodies over the cap are 413, declared or chunked", async () => {
  const lab = await Lab.open(parseConfig(BENCH, "<test>"));
  const hub = new StreamHub();
  try {
    const app = createApp({ lab, hub, maxBodyBytes: 1024 });
    const big = JSON.stringify({ value: "x".repeat(2000) });
    const declared = await app.request("/api/devices/motor/attrs/position", {
      method: "PUT",
      headers: { "content-type": "application/json", "content-length": String(big.length) },
      body: big,
    });
    assert.equal(declared.status, 413);
    const chunked = await app.request("/api/devices/motor/attrs/position", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: ReadableStream.from([new TextEncoder().encode(big)]),
    });
    assert.equal(chunked.status, 413);
    assert.equal((await chunked.json()).error.code, "payload_too_large");
    const small = await app.request("/api/devices/motor/attrs/position", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: ReadableStream.from([new TextEncoder().encode('{"value": 1}')]),
    });
    assert.equal(small.status, 200);
  } finally {
    hub.close();
    await lab.close();
  }
});

Deno.test("the cached device detail follows new readings and state", async () => {
  await withApp(async (app, lab) => {
    await lab.get("thermo").sample();
    const first = await (await app.request("/api/devices/thermo")).json();
    const again = await (await app.request("/api/devices/thermo")).json();
    assert.deepEqual(again, first);
    await new Promise((r) => setTimeout(r, 5));
    const r = await lab.get("thermo").sample();
    const next = await (await app.request("/api/devices/thermo")).json();
    assert.equal(next.last.t, r.t);
    assert.equal(next.last_t, r.t);
    assert.notEqual(next.last.t, first.last.t);
    assert.equal(next.attrs.length, first.attrs.length);
  });
});

Deno.test("the device list follows new readings; ages are computed per request", async () => {
  await withApp(async (app, lab) => {
    const list = async () => (await (await app.request("/api/devices")).json()).devices;
    const before = await list();
    assert.deepEqual(Object.keys(before[0]), [
      "name",
      "driver",
      "address",
      "state",
      "interval_s",
      "last_t",
      "last_age_s",
      "error",
    ]);
    for (const d of before) DeviceSummarySchema.strict().parse(d);
    const r = await lab.get("thermo").sample();
    const thermo = (await list()).find((d: { name: string }) => d.name === "thermo");
    assert.equal(thermo.last_t, r.t);
    assert.equal(thermo.state, "up");
    await new Promise((r) => setTimeout(r, 30));
    const later = (await list()).find((d: { name: string }) => d.name === "thermo");
    assert.equal(later.last_t, r.t);
    assert.ok(later.last_age_s > thermo.last_age_s, "the age grows between requests");
  });
});

Deno.test("the device list made within one millisecond shows a reading taken in it", async () => {
  await withApp(async (app, lab) => {
    const list = async () => (await (await app.request("/api/devices")).json()).devices;
    const now = Date.now;
    const ms = now();
    Date.now = () => ms;
    try {
      const thermo = () => list().then((l) => l.find((d: { name: string }) => d.name === "thermo"));
      const before = await thermo();
      const r = await lab.get("thermo").sample();
      const after = await thermo();
      assert.notEqual(before.last_t, r.t);
      assert.equal(after.last_t, r.t);
      assert.equal((await list()).length, lab.managers.length);
    } finally {
      Date.now = now;
    }
  });
});

Deno.test("polled routes answer like every route: errors, strict queries, encoded names, CORS, HEAD", async () => {
  const lab = await Lab.open(parseConfig(BENCH, "<test>"));
  const hub = new StreamHub();
  hub.attach(lab);
  try {
    for (const cors of [undefined, ["https://lab.example.org"]]) {
      const app = createApp({ lab, hub, cors });
      const missing = await app.request("/api/devices/nope/read");
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get("content-type"), "application/json");
      assert.match(
        (await missing.json()).error.message,
        /no device "nope"; devices: motor, thermo/,
      );
      const typo = await app.request("/api/devices/thremo/read");
      assert.equal(typo.status, 404);
      assert.equal(
        (await typo.json()).error.message,
        'no device "thremo"; devices: motor, thermo (did you mean "thermo"?)',
      );
      const unknown = await app.request("/api/devices/thermo/read?attrs=nope");
      assert.equal(unknown.status, 400);
      assert.match((await unknown.json()).error.message, /thermo has no attribute "nope"/);
      const strict = await app.request("/api/devices/thermo/read?atrs=temperature");
      assert.equal(strict.status, 400, "an unknown query parameter is refused");
      await strict.body?.cancel();
      const encoded = await app.request("/api/devices/%74hermo/read?attrs=temperature");
      assert.equal(encoded.status, 200);
      assert.deepEqual(Object.keys(await encoded.json()), ["t", "device", "temperature"]);
      const head = await app.request("/api/devices/thermo", { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
      const origin = { headers: { origin: "https://lab.example.org" } };
      const read = await app.request("/api/devices/thermo/read", origin);
      assert.equal(read.status, 200);
      assert.equal(
        read.headers.get("access-control-allow-origin"),
        cors ? "https://lab.example.org" : null,
        "a path with middleware (CORS) is served through it",
      );
      await read.body?.cancel();
    }
  } finally {
    hub.close();
    await lab.close();
  }
});

Deno.test("64 concurrent /read of a slow device take two device reads, each fresh for its request", async () => {
  const lab = await Lab.open(parseConfig(
    `[devices.slow]\naddress = "sim://gauge?seed=1&latency=20ms"\n`,
    "<test>",
  ));
  try {
    const app = createApp({ lab });
    const m = lab.get("slow");
    const device = m.device;
    const read = device.read.bind(device);
    const begins: number[] = [];
    device.read = (names, opts) => {
      begins.push(Date.now());
      return read(names, opts);
    };
    const asked = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 64 }, () => app.request("/api/devices/slow/read")),
    );
    assert.deepEqual(answers.map((a) => a.status), new Array(64).fill(200));
    const bodies = await Promise.all(answers.map((a) => a.json()));
    assert.equal(m.stats.reads, 2, "the first read, and one shared by the 63 that waited");
    assert.equal(begins.length, 2);
    assert.ok(begins.every((b) => b >= asked));
    assert.equal(new Set(bodies.map((b) => b.t)).size, 2);
    for (const b of bodies) assert.equal(typeof b.pressure, "number");
  } finally {
    await lab.close();
  }
});

Deno.test("a failed reading is a 503 naming the device, from an idle queue or a busy one", async () => {
  await withApp(async (app, lab) => {
    const device = lab.get("thermo").device;
    device.read = () => Promise.reject(new DeviceError("no answer", "thermo"));
    // An idle queue reads through readTo: it fails alike.
    device.readTo = (_names, _opts, _done, failed) =>
      failed(new DeviceError("no answer", "thermo"));
    const answers = await Promise.all(
      [0, 1, 2].map(() => app.request("/api/devices/thermo/read")),
    );
    for (const res of answers) {
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), {
        error: { code: "device_error", message: "thermo: no answer" },
      });
    }
  });
});

Deno.test("every route names an unknown query parameter with those it takes, as the polled routes do", async () => {
  await withApp(async (app) => {
    const doc = await (await app.request("/api/openapi.json")).json();
    const paths = doc.paths as Record<
      string,
      Record<string, { parameters?: { name: string; in: string; required?: boolean }[] }>
    >;
    let routes = 0;
    for (const [path, methods] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const takes = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
        // the required parameters given, so the unknown one is all that is wrong
        const required = (op.parameters ?? []).filter((p) => p.in === "query" && p.required);
        const url = path.replaceAll(/{(.+?)}/g, "thermo") + "?" +
          [...required.map((p) => `${p.name}=thermo`), "zzz=1"].join("&");
        const res = await app.request(url, { method: method.toUpperCase() });
        assert.equal(res.status, 400, `${method} ${path}`);
        assert.equal(
          (await res.json()).error.message,
          `unknown query parameter "zzz"; it takes ${[...takes, "time", "utc"].join(", ")}`,
          `${method} ${path}`,
        );
        routes++;
      }
    }
    assert.ok(routes >= 20, `${routes} routes documented`);
    // utc without time changes nothing on a validated route either
    const alarms = await app.request("/api/alarms?utc=1");
    assert.equal(alarms.status, 200, JSON.stringify(await alarms.clone().json()));
    await alarms.body?.cancel();
    // a JSON body's unknown key is named the same way
    const body = await app.request("/api/devices/motor/attrs/position", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ valeu: 1 }),
    });
    assert.equal(body.status, 400);
    assert.match(
      (await body.json()).error.message,
      /^unknown key "valeu"; it takes value \(did you mean "value"\?\)/,
    );
    // the event stream takes the resume point as a parameter too (its handler reads it)
    const resumed = await app.request("/api/stream?last_event_id=0");
    assert.equal(resumed.status, 200);
    assert.match(resumed.headers.get("content-type") ?? "", /^text\/event-stream/);
    await resumed.body?.cancel();
    const typo = await app.request("/api/tasks?stat=running");
    assert.equal(
      (await typo.json()).error.message,
      'unknown query parameter "stat"; it takes device, state, time, utc (did you mean "state"?)',
    );
  });
});

Deno.test("a request answered before its body was read (401, 404) has its body read first, so HTTP/2 does not reset it", async () => {
  const lab = await Lab.open(parseConfig(BENCH, "<test>"));
  const hub = new StreamHub();
  hub.attach(lab);
  try {
    const guarded = createApp({ lab, hub, token: "t".repeat(16) });
    const open = createApp({ lab, hub });
    const cases: [typeof open, string, string, number][] = [
      [guarded, "PUT", "/api/devices/motor/attrs/position", 401],
      [open, "POST", "/api/nothing", 404],
    ];
    for (const [app, method, path, status] of cases) {
      const req = new Request(`http://localhost${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value: 1 }),
      });
      const res = await app.fetch(req);
      assert.equal(res.status, status, path);
      await res.body?.cancel();
      assert.equal(req.bodyUsed, true, `${method} ${path}: the body was read`);
    }
  } finally {
    hub.close();
    await lab.close();
  }
});
