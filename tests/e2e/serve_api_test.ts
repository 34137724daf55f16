/**
 * The HTTP API of `labwire serve` over a real socket: every route and every error code.
 */
import assert from "node:assert/strict";
import { readEvents, startTestDaemon, until } from "./serve_fixture.ts";
import { checkExposure } from "../../lib/server/daemon.ts";

const json = { "content-type": "application/json" };

async function call(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

function errorOf(r: { body: Record<string, unknown> }): { code: string; message: string } {
  const e = r.body.error as { code: string; message: string } | undefined;
  assert.ok(e, `expected an error body, got ${JSON.stringify(r.body)}`);
  assert.equal(typeof e.code, "string");
  assert.equal(typeof e.message, "string");
  return e;
}

Deno.test("serve API over a socket: every route and error code", async (t) => {
  const d = await startTestDaemon();
  const u = d.url;
  try {
    await until(() => d.lab.managers.every((m) => m.last !== undefined), 5000, "first readings");

    await t.step("GET /api/devices lists devices with state and age", async () => {
      const r = await call(`${u}/api/devices`);
      assert.equal(r.status, 200);
      const devices = r.body.devices as Record<string, unknown>[];
      assert.deepEqual(devices.map((x) => x.name), ["motor", "det", "thermo", "broken"]);
      const motor = devices[0]!;
      assert.equal(motor.driver, "sim");
      assert.equal(motor.address, "sim://motor?seed=3");
      assert.equal(motor.state, "up");
      assert.equal(typeof motor.last_age_s, "number");
      assert.equal(devices[3]!.state, "down", "a failing device shows as down");
      assert.match(String(devices[3]!.error), /./);
    });

    await t.step("GET /api/devices/{name}: attrs with units, rw and limits", async () => {
      const r = await call(`${u}/api/devices/motor`);
      assert.equal(r.status, 200);
      const attrs = r.body.attrs as Record<string, unknown>[];
      const pos = attrs.find((a) => a.name === "position")!;
      assert.equal(pos.rw, true);
      assert.equal(pos.units, "mm");
      assert.equal(typeof pos.max, "number");
      assert.ok(Array.isArray(r.body.techniques));
      assert.equal((r.body.last as { device: string }).device, "motor");
      const missing = await call(`${u}/api/devices/nope`);
      assert.equal(missing.status, 404);
      assert.equal(errorOf(missing).code, "not_found");
      assert.match(
        errorOf(missing).message,
        /no device "nope"; devices: motor, det, thermo, broken/,
      );
    });

    await t.step(
      "GET /api/devices/{name}/read: fresh reading; 400 on bad attrs; 503 when down",
      async () => {
        const r = await call(`${u}/api/devices/thermo/read?attrs=temperature`);
        assert.equal(r.status, 200);
        // Flat, as `labwire read` prints it: t, device, then the values.
        assert.deepEqual(Object.keys(r.body), ["t", "device", "temperature"]);
        assert.ok(Math.abs((r.body.t as number) - Date.now() / 1000) < 5);
        const bad = await call(`${u}/api/devices/thermo/read?attrs=temprature`);
        assert.equal(bad.status, 400);
        assert.match(errorOf(bad).message, /no attribute "temprature"/);
        const unknownParam = await call(`${u}/api/devices/thermo/read?atrs=x`);
        assert.equal(unknownParam.status, 400);
        assert.match(
          errorOf(unknownParam).message,
          /^unknown query parameter "atrs"; it takes attrs, time, utc \(did you mean "attrs"\?\)$/,
        );
        const down = await call(`${u}/api/devices/broken/read`);
        assert.equal(down.status, 503);
        assert.equal(errorOf(down).code, "device_error");
        assert.match(errorOf(down).message, /^broken: /);
      },
    );

    await t.step("PUT attrs: validated write with read-back; 400, 404, 405, 413, 422", async () => {
      const ok = await call(`${u}/api/devices/motor/attrs/position`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ value: 1.5 }),
      });
      assert.equal(ok.status, 200);
      assert.deepEqual([ok.body.device, ok.body.attr, ok.body.value], ["motor", "position", 1.5]);
      const limit = await call(`${u}/api/devices/motor/attrs/position`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ value: 1e6 }),
      });
      assert.equal(limit.status, 422);
      assert.equal(errorOf(limit).code, "write_rejected");
      assert.match(errorOf(limit).message, /position: 1000000 is above the upper limit \d+ mm/);
      const ro = await call(`${u}/api/devices/motor/attrs/readback`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ value: 1 }),
      });
      assert.equal(ro.status, 422);
      assert.match(errorOf(ro).message, /read-only/);
      const type = await call(`${u}/api/devices/motor/attrs/position`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ value: "far" }),
      });
      assert.equal(type.status, 422);
      const extra = await call(`${u}/api/devices/motor/attrs/position`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ value: 1, force: true }),
      });
      assert.equal(extra.status, 400, "unknown fields are rejected");
      assert.match(errorOf(extra).message, /force/);
      const malformed = await call(`${u}/api/devices/motor/attrs/position`, {
        method: "PUT",
        headers: json,
        body: "{value:",
      });
      assert.equal(malformed.status, 400);
      const noAttr = await call(`${u}/api/devices/motor/attrs/speed`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ value: 1 }),
      });
      assert.equal(noAttr.status, 404);
      const big = await call(`${u}/api/devices/motor/attrs/position`, {
        method: "PUT",
        headers: json,
        body: JSON.stringify({ value: "x".repeat(100_000) }),
      });
      assert.equal(big.status, 413);
      assert.equal(errorOf(big).code, "payload_too_large");
      const wrongMethod = await call(`${u}/api/devices/motor/attrs/position`, { method: "POST" });
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.get("allow"), "PUT");
      assert.equal(errorOf(wrongMethod).code, "method_not_allowed");
      const noRoute = await call(`${u}/api/nothing`);
      assert.equal(noRoute.status, 404);
    });

    await t.step(
      "tasks: POST 202, GET status and data, 409 on a busy device, DELETE stops",
      async () => {
        const created = await call(`${u}/api/devices/motor/tasks`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({
            technique: "hold",
            params: { position: 2 },
            sampling_interval: 0.1,
            max_duration: 30,
          }),
        });
        assert.equal(created.status, 202, JSON.stringify(created.body));
        const id = created.body.id as string;
        assert.equal(created.headers.get("location"), `/api/tasks/${id}`);
        await until(async () => (await call(`${u}/api/tasks/${id}`)).body.state === "running");
        const busy = await call(`${u}/api/devices/motor/attrs/position`, {
          method: "PUT",
          headers: json,
          body: JSON.stringify({ value: 3 }),
        });
        assert.equal(busy.status, 409);
        assert.equal(errorOf(busy).code, "conflict");
        await until(async () => ((await call(`${u}/api/tasks/${id}`)).body.samples as number) >= 2);
        const data = await call(`${u}/api/tasks/${id}/data`);
        assert.equal(data.status, 200);
        const rows = (data.body.data as { rows: Record<string, unknown>[] }).rows;
        assert.ok(rows.length >= 1);
        assert.equal(typeof rows[0]!.t, "number");
        const stopped = await call(`${u}/api/tasks/${id}`, { method: "DELETE" });
        assert.equal(stopped.status, 200);
        assert.equal((stopped.body.task as { state: string }).state, "stopped");
        const badTechnique = await call(`${u}/api/devices/thermo/tasks`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ technique: "dance" }),
        });
        assert.equal(badTechnique.status, 422);
        assert.match(errorOf(badTechnique).message, /no technique "dance"/);
        const badParam = await call(`${u}/api/devices/motor/tasks`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ technique: "hold", params: { position: 1e9 } }),
        });
        assert.equal(badParam.status, 422);
        const missingField = await call(`${u}/api/devices/motor/tasks`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ params: {} }),
        });
        assert.equal(missingField.status, 400);
        assert.equal((await call(`${u}/api/tasks/t999999`)).status, 404);
        assert.equal((await call(`${u}/api/tasks/t999999/data`)).status, 404);
        assert.equal((await call(`${u}/api/tasks/t999999`, { method: "DELETE" })).status, 404);
      },
    );

    await t.step(
      "GET /api/stream: readings of the asked devices; 404 for unknown ones",
      async () => {
        const res = await fetch(`${u}/api/stream?devices=thermo`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
        const events = await readEvents(res.body!, 3);
        for (const ev of events) {
          assert.equal(ev.event, "reading");
          const r = JSON.parse(ev.data);
          assert.equal(r.device, "thermo");
          assert.equal(ev.id, `${Math.round(r.t * 1000)}:thermo`);
        }
        const bad = await call(`${u}/api/stream?devices=thermo,nope`);
        assert.equal(bad.status, 404);
      },
    );

    await t.step("GET /api/samples: recorded data, min/max-downsampled", async () => {
      // The deadlines are for a machine busy with other tests: 20 rows take ~2 s when it is quiet.
      await until(
        () => (d.recording?.store.writer.stats.samples ?? 0) > 20,
        20_000,
        "rows written",
      );
      const now = Date.now() / 1000;
      const first = await call(`${u}/api/samples?device=thermo&attr=temperature&from=${now - 600}`);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      // A closed range (up to the last row already written), so both queries see the same rows.
      const to = (first.body.t as number[]).at(-1)!;
      const raw = await call(
        `${u}/api/samples?device=thermo&attr=temperature&from=${now - 600}&to=${to}`,
      );
      assert.equal(raw.status, 200, JSON.stringify(raw.body));
      assert.equal(raw.body.units, "°C");
      assert.equal(raw.body.bucket, null);
      const t = raw.body.t as number[];
      assert.ok(t.length >= 3);
      assert.deepEqual(raw.body.min, raw.body.max);
      const ds = await call(
        `${u}/api/samples?device=thermo&attr=temperature&from=${now - 600}&to=${to}&max_points=2`,
      );
      assert.equal(ds.status, 200);
      assert.ok((ds.body.t as number[]).length <= 2);
      assert.equal(ds.body.rows, t.length);
      const min = ds.body.min as number[];
      const max = ds.body.max as number[];
      const values = raw.body.min as number[];
      assert.equal(Math.min(...min), Math.min(...values));
      assert.equal(Math.max(...max), Math.max(...values));
      assert.equal((await call(`${u}/api/samples?device=thermo`)).status, 400);
      assert.equal((await call(`${u}/api/samples?device=nope&attr=x`)).status, 404);
      assert.equal((await call(`${u}/api/samples?device=thermo&attr=nope`)).status, 404);
      assert.equal(
        (await call(`${u}/api/samples?device=thermo&attr=temperature&from=10&to=5`)).status,
        400,
      );
    });

    await t.step("GET /api/alarms, /healthz, /metrics", async () => {
      await until(() => (d.recording?.alarms?.active().length ?? 0) >= 2, 20_000, "alarms");
      const alarms = await call(`${u}/api/alarms`);
      assert.equal(alarms.status, 200);
      const names = (alarms.body.active as { name: string }[]).map((a) => a.name).sort();
      assert.ok(names.includes("det_counting"), names.join());
      assert.ok(names.some((n) => n.startsWith("broken")), names.join());
      const health = await call(`${u}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.body.status, "degraded");
      assert.deepEqual((health.body.devices as { down: string[] }).down, ["broken"]);
      assert.equal((health.body.session as { ok: boolean }).ok, true);
      const res = await fetch(`${u}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^text\/plain; version=0.0.4/);
      const text = await res.text();
      assert.match(text, /^labwire_value\{device="motor",attr="position",units="mm"\} [\d.]+$/m);
      assert.match(text, /^labwire_device_up\{device="broken"\} 0$/m);
      assert.match(text, /^labwire_device_state\{device="broken",state="down"\} 1$/m);
      assert.match(text, /^labwire_read_errors_total\{device="broken"\} [1-9]\d*$/m);
      assert.match(
        text,
        /^labwire_read_latency_seconds_bucket\{device="thermo",le="\+Inf"\} \d+$/m,
      );
      assert.match(text, /^labwire_missed_deadlines_total \d+$/m);
      assert.match(text, /^labwire_session_rows_written_total [1-9]\d*$/m);
    });

    await t.step("GET /api/openapi.json documents every route", async () => {
      const r = await call(`${u}/api/openapi.json`);
      assert.equal(r.status, 200);
      const paths = Object.keys(r.body.paths as object).sort();
      for (
        const p of [
          "/api/devices",
          "/api/devices/{name}",
          "/api/devices/{name}/read",
          "/api/devices/{name}/attrs/{attr}",
          "/api/devices/{name}/tasks",
          "/api/tasks/{id}",
          "/api/tasks/{id}/data",
          "/api/stream",
          "/api/samples",
          "/api/alarms",
          "/healthz",
        ]
      ) assert.ok(paths.includes(p), p);
      const put = (r.body.paths as Record<string, Record<string, { responses: object }>>)[
        "/api/devices/{name}/attrs/{attr}"
      ]!.put!;
      assert.deepEqual(Object.keys(put.responses).sort(), [
        "200",
        "400",
        "401",
        "404",
        "409",
        "413",
        "422",
        "503",
      ]);
    });

    await t.step("dashboard and its assets; no path traversal", async () => {
      const page = await fetch(`${u}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>labwire<\/title>/);
      const js = await fetch(`${u}/assets/uPlot.iife.min.js`);
      assert.equal(js.status, 200);
      assert.ok((await js.text()).length > 10_000);
      for (
        const p of [
          "/assets/..%2f..%2fdeno.json",
          "/assets/%2e%2e%2fapp.ts",
          "/assets/app.ts",
          "/assets/",
        ]
      ) {
        const r = await fetch(`${u}${p}`);
        await r.body?.cancel();
        assert.equal(r.status, 404, p);
      }
    });
  } finally {
    await d.close();
  }
});

Deno.test("serve: a token makes PUT/POST/DELETE need Authorization: Bearer, GET stays open", async () => {
  const token = "0123456789abcdef-test-token";
  const d = await startTestDaemon({ token, session: false });
  try {
    const put = (auth?: string) =>
      call(`${d.url}/api/devices/motor/attrs/position`, {
        method: "PUT",
        headers: auth ? { ...json, authorization: auth } : json,
        body: JSON.stringify({ value: 1 }),
      });
    const none = await put();
    assert.equal(none.status, 401);
    assert.equal(errorOf(none).code, "unauthorized");
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="labwire"');
    assert.equal((await put("Bearer wrong-token-wrong-token")).status, 401);
    assert.equal((await put(`Basic ${btoa("a:b")}`)).status, 401);
    assert.equal((await put(`Bearer ${token}`)).status, 200);
    assert.equal((await call(`${d.url}/api/tasks/t1`, { method: "DELETE" })).status, 401);
    assert.equal((await call(`${d.url}/api/devices`)).status, 200);
  } finally {
    await d.close();
  }
});

Deno.test("serve refuses to listen beyond loopback without a token (before binding)", async () => {
  assert.equal(checkExposure({ hostname: "127.0.0.1", port: 8600 }, undefined), undefined);
  assert.equal(checkExposure({ hostname: "::1", port: 8600 }, undefined), undefined);
  assert.equal(checkExposure({ hostname: "0.0.0.0", port: 8600 }, "x".repeat(16)), undefined);
  assert.match(checkExposure({ hostname: "0.0.0.0", port: 8600 }, undefined)!, /--token-file/);
  await assert.rejects(
    () => startTestDaemon({ listen: { hostname: "0.0.0.0", port: 0 }, session: false }),
    /refusing to listen on 0\.0\.0\.0:0 without a token/,
  );
});

Deno.test("serve: CORS is off unless origins are configured", async () => {
  const off = await startTestDaemon({ session: false });
  const on = await startTestDaemon({ session: false, cors: ["https://lab.example.org"] });
  try {
    const preflight = (url: string, origin: string) =>
      fetch(`${url}/api/devices/motor/attrs/position`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "PUT" },
      });
    const a = await preflight(off.url, "https://lab.example.org");
    await a.body?.cancel();
    assert.equal(a.headers.get("access-control-allow-origin"), null);
    const b = await preflight(on.url, "https://lab.example.org");
    await b.body?.cancel();
    assert.equal(b.headers.get("access-control-allow-origin"), "https://lab.example.org");
    const g = await fetch(`${on.url}/api/devices`, { headers: { origin: "https://evil.example" } });
    await g.body?.cancel();
    assert.notEqual(g.headers.get("access-control-allow-origin"), "https://evil.example");
  } finally {
    await off.close();
    await on.close();
  }
});

Deno.test("serve without a session answers /api/samples with 503", async () => {
  const d = await startTestDaemon({ session: false });
  try {
    const r = await call(`${d.url}/api/samples?device=thermo&attr=temperature`);
    assert.equal(r.status, 503);
    assert.match(errorOf(r).message, /no session/);
    const h = await call(`${d.url}/healthz`);
    assert.equal((h.body.session as { recording: boolean }).recording, false);
  } finally {
    await d.close();
  }
});

Deno.test("serve listens on IPv6 loopback too", async () => {
  let d;
  try {
    d = await startTestDaemon({ listen: { hostname: "::1", port: 0 }, session: false });
  } catch (err) {
    // A machine without IPv6 loopback cannot run this; say so instead of failing.
    console.error(`skipping the ::1 check: ${(err as Error).message}`);
    return;
  }
  try {
    assert.match(d.url, /^http:\/\/\[::1\]:\d+$/);
    const r = await call(`${d.url}/healthz`);
    assert.equal(r.status, 200);
  } finally {
    await d.close();
  }
});
