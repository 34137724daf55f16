/**
 * Devices at run time against a real `labwire serve` process: `POST /api/devices` (validated like
 * the config, with the token rules of every write), `DELETE /api/devices/NAME` (refused while a
 * task owns the device), SIGHUP re-reading the config (added, removed and changed devices, a bad
 * file changing nothing), each change a `device` event in the one session.
 */
import assert from "node:assert/strict";
import { TASK_BENCH, until } from "./serve_fixture.ts";
import { spawnServe } from "./labwire_process.ts";

const TOKEN = "0123456789abcdef-runtime";

Deno.test("serve: devices added and removed at run time, and SIGHUP applying the config's changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-devrt-" });
  await Deno.writeTextFile(`${dir}/bench.toml`, TASK_BENCH);
  await Deno.writeTextFile(`${dir}/token`, TOKEN + "\n");
  const session = `${dir}/s.sqlite`;
  const serve = await spawnServe([
    "--config",
    `${dir}/bench.toml`,
    "--session",
    session,
    "--token-file",
    `${dir}/token`,
  ]);
  const u = serve.url;
  const call = async (
    path: string,
    method = "GET",
    body?: unknown,
    token: string | null = TOKEN,
  ) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const res = await fetch(u + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const names = async () =>
    ((await call("/api/devices")).body.devices as { name: string }[]).map((d) => d.name);
  try {
    const g2 = { name: "g2", address: "sim://gauge?seed=4", options: { interval: "200ms" } };
    assert.equal(
      (await call("/api/devices", "POST", g2, null)).status,
      401,
      "writes need the token",
    );
    const added = await call("/api/devices", "POST", g2);
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.name, "g2");
    assert.equal(added.body.interval_s, 0.2);
    assert.deepEqual(await names(), ["motor", "det", "thermo", "g2"]);
    // sampled and served like a configured device
    await until(async () => (await call("/api/devices/g2")).body.last !== null, 5000, "a sample");
    assert.equal(typeof (await call("/api/devices/g2/read")).body.pressure, "number");

    // validated exactly like the config: the same messages, naming the key
    const twice = await call("/api/devices", "POST", g2);
    assert.equal(twice.status, 409);
    const typo = await call("/api/devices", "POST", {
      ...g2,
      name: "g3",
      options: { intervall: "1s" },
    });
    assert.equal(typo.status, 400);
    assert.equal(typo.body.error.code, "invalid_device");
    assert.match(
      typo.body.error.message,
      /devices\.g3\.intervall: unknown key.*did you mean "interval"/,
    );
    const unit = await call("/api/devices", "POST", {
      ...g2,
      name: "g3",
      options: { interval: 5 },
    });
    assert.match(unit.body.error.message, /devices\.g3\.interval: 5 has no unit/);
    const address = await call("/api/devices", "POST", { name: "g3", address: "nope://x" });
    assert.equal(address.status, 400);
    const name = await call("/api/devices", "POST", { name: "1 bad", address: "sim://gauge" });
    assert.equal(name.status, 400);

    // removal: refused while a task owns the device, then done
    const hold = await call("/api/devices/motor/tasks", "POST", {
      technique: "hold",
      params: { position: 1 },
    });
    const owned = await call("/api/devices/motor", "DELETE");
    assert.equal(owned.status, 409);
    assert.match(owned.body.error.message, new RegExp(`owned by task ${hold.body.id}`));
    await call(`/api/tasks/${hold.body.id}`, "DELETE");
    assert.equal((await call("/api/devices/g2", "DELETE", undefined, null)).status, 401);
    const removed = await call("/api/devices/g2", "DELETE");
    assert.deepEqual(removed.body, { name: "g2", address: "sim://gauge?seed=4", removed: true });
    assert.equal((await call("/api/devices/g2")).status, 404);
    assert.equal((await call("/api/devices/g2", "DELETE")).status, 404);

    // SIGHUP: thermo gone, gauge3 new, det changed (a new interval); the daemon goes on
    await Deno.writeTextFile(
      `${dir}/bench.toml`,
      TASK_BENCH.replace(/\[devices\.thermo\][^[]*/, "")
        .replace(
          'address = "sim://det?seed=5&motor=motor"\ninterval = "200ms"',
          'address = "sim://det?seed=5&motor=motor"\ninterval = "300ms"',
        ) +
        '\n[devices.gauge3]\naddress = "sim://gauge?seed=8"\ninterval = "200ms"\n',
    );
    serve.child.kill("SIGHUP");
    await until(
      () => serve.lines.some((l) => /SIGHUP: .* re-read/.test(l)),
      10_000,
      "the reload",
    );
    assert.ok(
      serve.lines.some((l) => /re-read: added gauge3; removed thermo; changed det$/.test(l)),
      serve.lines.join("\n"),
    );
    assert.deepEqual(await names(), ["motor", "det", "gauge3"]);
    assert.equal((await call("/api/devices/det")).body.interval_s, 0.3);
    await until(async () => (await call("/api/devices/gauge3")).body.last !== null, 5000, "gauge3");

    // a broken file changes nothing and says why
    await Deno.writeTextFile(`${dir}/bench.toml`, "[devices.x]\nadress = 1\n");
    serve.child.kill("SIGHUP");
    await until(
      () => serve.lines.some((l) => /SIGHUP: .*devices stay as they were/.test(l)),
      10_000,
      "the refusal",
    );
    assert.deepEqual(await names(), ["motor", "det", "gauge3"]);
  } finally {
    assert.equal(await serve.stop(), 0, serve.lines.join("\n"));
  }
  try {
    const { SessionReader } = await import("../../lib/session/reader.ts");
    const reader = SessionReader.open(session);
    const events = reader.events({ kinds: ["device"] }).map((e) => e.message);
    const samples = reader.eventCounts();
    reader.close();
    assert.deepEqual(events, [
      "device g2 added (POST /api/devices): sim://gauge?seed=4",
      "device g2 removed (DELETE /api/devices): sim://gauge?seed=4",
      "device thermo removed (config reloaded): sim://thermo?seed=2",
      "device det removed (config reloaded): sim://det?seed=5&motor=motor",
      "device det added (config reloaded): sim://det?seed=5&motor=motor",
      "device gauge3 added (config reloaded): sim://gauge?seed=8",
    ]);
    assert.ok(samples.device === 6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
