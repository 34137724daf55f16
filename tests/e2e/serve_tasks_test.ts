/**
 * Tasks against a real `labwire serve` process: the per-device FIFO queue (202 with a place),
 * `GET /api/tasks`, cancelling a queued task, data kept and paged with `?since=`, the one
 * ownership rule shared with scans and writes, and the tasks recorded in the session.
 */
import assert from "node:assert/strict";
import { TASK_BENCH, until } from "./serve_fixture.ts";
import { spawnServe } from "./labwire_process.ts";
import { closedPort, runCli, runShell } from "./run_cli.ts";
import { motorScan } from "../fixtures/scan_request.ts";

/** A JSON request; answers the status and the parsed body. */
export async function call(
  url: string,
  method = "GET",
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("serve tasks: FIFO queue, GET /api/tasks, cancel, kept data, one owner per device", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-tasks-" });
  await Deno.writeTextFile(`${dir}/bench.toml`, TASK_BENCH);
  const session = `${dir}/s.sqlite`;
  const serve = await spawnServe(["--config", `${dir}/bench.toml`, "--session", session]);
  const u = serve.url;
  try {
    // a move that takes 2.5 s owns the motor while it runs
    const move = await call(`${u}/api/devices/motor/tasks`, "POST", {
      technique: "move",
      params: { position: 5 },
      sampling_interval: 0.1,
    });
    assert.equal(move.status, 202, JSON.stringify(move.body));
    assert.equal(move.body.state, "running");
    assert.equal(move.body.queue_position, null);
    const moveId = move.body.id as string;

    // a task posted to the busy device is queued with its place, not refused
    const hold = await call(`${u}/api/devices/motor/tasks`, "POST", {
      technique: "hold",
      params: { position: 1 },
    });
    assert.equal(hold.status, 202);
    assert.equal(hold.body.state, "queued");
    assert.equal(hold.body.queue_position, 1);
    assert.equal(hold.body.waiting_for, `task ${moveId}`);
    const sample = await call(`${u}/api/devices/motor/tasks`, "POST", {
      technique: "sample",
      sampling_interval: 0.05,
      max_duration: 0.3,
    });
    assert.equal(sample.body.queue_position, 2);

    // the same rule for scans and plain writes: refused while the task owns the motor
    const scan = await call(`${u}/api/scans`, "POST", motorScan(0, 1, 3));
    assert.equal(scan.status, 409);
    assert.match(
      (scan.body.error as { message: string }).message,
      new RegExp(`motor is owned by task ${moveId} \\(move\\)`),
    );
    const write = await call(`${u}/api/devices/motor/attrs/position`, "PUT", { value: 2 });
    assert.equal(write.status, 409);
    assert.equal((write.body.error as { code: string }).code, "conflict");

    const listed = await call(`${u}/api/tasks?device=motor`);
    assert.deepEqual(
      (listed.body.tasks as { id: string; state: string }[]).map((t) => t.state),
      ["running", "queued", "queued"],
    );
    assert.equal((await call(`${u}/api/tasks?state=nonsense`)).status, 400);
    assert.equal((await call(`${u}/api/tasks?device=nope`)).status, 404);

    // cancelling a queued task: it never starts, and the one behind it moves up
    const cancelled = await call(`${u}/api/tasks/${hold.body.id}`, "DELETE");
    assert.equal(cancelled.status, 200);
    assert.equal((cancelled.body.task as { state: string }).state, "cancelled");
    assert.equal((await call(`${u}/api/tasks/${sample.body.id}`)).body.queue_position, 1);

    await until(
      async () => (await call(`${u}/api/tasks/${moveId}`)).body.state === "completed",
      15_000,
      "the move to finish",
    );
    // data is kept: two readers see the same rows, and a cursor continues where a page ended
    const a = (await call(`${u}/api/tasks/${moveId}/data?limit=3`)).body.data as {
      rows: { t: number; readback: number }[];
      since: number;
      next_since: number;
    };
    const b = (await call(`${u}/api/tasks/${moveId}/data?limit=3`)).body.data as typeof a;
    assert.deepEqual(a.rows, b.rows);
    assert.deepEqual([a.since, a.next_since], [0, 3]);
    const rest = (await call(`${u}/api/tasks/${moveId}/data?since=${a.next_since}`)).body
      .data as typeof a;
    assert.equal(rest.since, 3);
    assert.ok(rest.rows[0]!.t >= a.rows[2]!.t);
    assert.ok(Math.abs(rest.rows.at(-1)!.readback - 5) < 1e-6, "completed at the target");

    // the queued sample task ran once the move let go; then a scan owns the motor and a task
    // posted meanwhile waits for it
    await until(
      async () => (await call(`${u}/api/tasks/${sample.body.id}`)).body.state === "completed",
      5000,
      "the queued sample task to run",
    );
    const scanning = await call(`${u}/api/scans`, "POST", { ...motorScan(5, 4, 5), settle_ms: 50 });
    assert.equal(scanning.status, 202, JSON.stringify(scanning.body));
    const waits = await call(`${u}/api/devices/motor/tasks`, "POST", {
      technique: "move",
      params: { position: 4.5 },
      sampling_interval: 0.05,
    });
    assert.equal(waits.body.state, "queued");
    assert.equal(waits.body.waiting_for, `scan ${scanning.body.id}`);
    await until(
      async () => (await call(`${u}/api/tasks/${waits.body.id}`)).body.state === "completed",
      15_000,
      "the task behind the scan to run",
    );
    const scanDone = await call(`${u}/api/scans/${scanning.body.id}?limit=1`);
    assert.equal(scanDone.body.state, "done", "the scan finished before the task started");
  } finally {
    assert.equal(await serve.stop(), 0, serve.lines.join("\n"));
  }
  try {
    // every task is in the session, with its end state
    const info = await runCli(["session", "info", session, "--json"]);
    assert.equal(info.code, 0, info.stderr);
    const tasks = JSON.parse(info.stdout).tasks as { technique: string; status: string }[];
    assert.deepEqual(
      tasks.map((t) => `${t.technique} ${t.status}`),
      ["move completed", "hold cancelled", "sample completed", "move completed"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("labwire task start|list|status|data|stop against a serve process, and locally without one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-task-cli-" });
  await Deno.writeTextFile(`${dir}/bench.toml`, TASK_BENCH);
  // with a token, as beyond loopback: the CLI takes it from $LABWIRE_TOKEN for start and stop
  const token = "task-cli-token-0123456789";
  await Deno.writeTextFile(`${dir}/token`, token);
  const serve = await spawnServe([
    "--config",
    `${dir}/bench.toml`,
    "--no-record",
    "--token-file",
    `${dir}/token`,
  ]);
  const env = { LABWIRE_URL: serve.url, LABWIRE_TOKEN: token };
  const task = (...args: string[]) => runCli(["task", ...args], { env, cwd: dir });
  try {
    const refused = await runCli(["task", "start", "thermo", "sample"], {
      env: { LABWIRE_URL: serve.url },
      cwd: dir,
    });
    assert.equal(refused.code, 2, "no token: a usage error");
    assert.match(
      refused.stderr,
      /needs Authorization: Bearer[\s\S]*--token-file FILE or set LABWIRE_TOKEN/,
    );
    // a hold owns the motor until it is stopped: whatever the machine's load, the next ones queue
    const started = await task("start", "motor", "hold", "position=1", "--duration", "60s");
    assert.equal(started.code, 0, started.stderr);
    const hold = JSON.parse(started.stdout);
    assert.equal(hold.state, "running");
    assert.equal(hold.technique, "hold");
    assert.deepEqual(hold.params, { position: 1 });

    const queued = await task("start", "motor", "move", "position=2", "--interval", "100ms");
    const move = JSON.parse(queued.stdout);
    assert.equal(move.state, "queued");
    assert.equal(move.queue_position, 1);
    assert.equal(move.waiting_for, `task ${hold.id}`);
    const third = JSON.parse((await task("start", "motor", "sample")).stdout);
    assert.equal(third.queue_position, 2);

    const list = await task("list", "--device", "motor");
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((t) => `${t.id} ${t.state}`), [
      `${hold.id} running`,
      `${move.id} queued`,
      `${third.id} queued`,
    ]);

    const cancelled = await task("stop", third.id);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(JSON.parse(cancelled.stdout).state, "cancelled");
    const stopped = await task("stop", hold.id);
    assert.equal(JSON.parse(stopped.stdout).state, "stopped");

    // the move runs once the hold let go; --follow prints every row until it is done
    const followed = await task("data", move.id, "--follow");
    assert.equal(followed.code, 0, followed.stderr);
    const rows = followed.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(rows.length >= 3, followed.stdout);
    assert.deepEqual(Object.keys(rows[0]).slice(0, 2), ["t", "device"]);
    assert.ok(Math.abs(rows.at(-1).readback - 2) < 1e-6);
    const status = JSON.parse((await task("status", move.id)).stdout);
    assert.equal(status.state, "completed");
    assert.equal(status.samples, rows.length, "follow printed every row once");

    // a page from a cursor, and the cursor of the next one on stderr
    const page = await task("data", move.id, "--since", "1", "--limit", "2");
    assert.equal(page.code, 0, page.stderr);
    assert.equal(page.stdout.trim().split("\n").length, 2);
    assert.match(page.stderr, /next: --since 3/);

    // mistakes: usage (2), unknown task (2), bad technique refused by the daemon (2)
    assert.equal((await task("start", "motor")).code, 2);
    assert.equal((await task("list", "--state", "sleeping")).code, 2);
    const unknown = await task("status", "t999");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no task "t999"/);
    const bad = await task("start", "thermo", "dance");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /thermo has no technique "dance"/);
    const typo = await task("start", "thermo", "sampel");
    assert.equal(typo.code, 2);
    assert.match(
      typo.stderr,
      /thermo has no technique "sampel"; it has: .* \(did you mean "sample"\?\)/,
    );
  } finally {
    assert.equal(await serve.stop(), 0, serve.lines.join("\n"));
  }
  try {
    // no daemon: status is an error naming the URL; start runs the task here from the config
    const none = await runCli(["task", "list", "--url", serve.url]);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /no labwire daemon answered at .* \(connection refused\)\n {2}is it running\?/,
    );
    const local = await runCli([
      "task",
      "start",
      "thermo",
      "sample",
      "attrs=temperature",
      "--interval",
      "50ms",
      "--duration",
      "300ms",
      "--local",
      "--config",
      `${dir}/bench.toml`,
    ]);
    assert.equal(local.code, 0, local.stderr);
    const readings = local.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(readings.length >= 3, local.stdout);
    assert.deepEqual(Object.keys(readings[0]), ["t", "device", "temperature"]);
    assert.match(local.stderr, /completed after \d+ samples/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve safe states: at a task's stop, a scan's interruption and the daemon's stop, each a session event", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-safe-" });
  const bench = TASK_BENCH
    .replace('interval = "200ms"\n', 'interval = "200ms"\nsafe_state = { position = 0 }\n')
    .replace(
      'address = "sim://thermo?seed=2"\n',
      'address = "sim://thermo?seed=2"\nsafe_state = { setpoint = 20, heater = false }\nsafe_state_timeout = "1s"\n',
    );
  await Deno.writeTextFile(`${dir}/bench.toml`, bench);
  const session = `${dir}/s.sqlite`;
  const serve = await spawnServe(["--config", `${dir}/bench.toml`, "--session", session]);
  const u = serve.url;
  const read = async (device: string) =>
    (await call(`${u}/api/devices/${device}/read`)).body as Record<string, unknown>;
  try {
    const hold = await call(`${u}/api/devices/thermo/tasks`, "POST", {
      technique: "hold",
      params: { heater: true, setpoint: 60 },
      sampling_interval: 0.1,
    });
    assert.equal(hold.status, 202, JSON.stringify(hold.body));
    await until(async () => (await read("thermo")).heater === true, 5000, "the hold to write");
    const stopped = await call(`${u}/api/tasks/${hold.body.id}`, "DELETE");
    assert.equal((stopped.body.task as { state: string }).state, "stopped");
    // the stop answers once the safe state is on the device
    const thermo = await read("thermo");
    assert.deepEqual([thermo.setpoint, thermo.heater], [20, false]);

    const scan = await call(`${u}/api/scans`, "POST", {
      ...motorScan(1, 9, 50),
      settle_ms: 100,
    });
    assert.equal(scan.status, 202, JSON.stringify(scan.body));
    await until(async () => Number((await read("motor")).position) >= 1, 5000, "the scan to move");
    assert.equal((await call(`${u}/api/scans/${scan.body.id}`, "DELETE")).body.state, "stopped");
    await until(async () => (await read("motor")).position === 0, 10_000, "the motor's safe state");

    // the daemon's stop leaves every device with a safe_state in it
    await call(`${u}/api/devices/thermo/attrs/heater`, "PUT", { value: true });
  } finally {
    assert.equal(await serve.stop(), 0, serve.lines.join("\n"));
  }
  try {
    const { SessionReader } = await import("../../lib/session/reader.ts");
    const reader = SessionReader.open(session);
    const events = reader.events({ kinds: ["safe_state"] });
    reader.close();
    // the daemon applies every device's at once: those two may be written in either order
    const messages = [
      ...events.slice(0, 2),
      ...events.slice(2).sort((a, b) => a.message < b.message ? -1 : 1),
    ].map((e) => e.message);
    assert.deepEqual(messages, [
      "safe state of thermo applied (task t1 stopped): setpoint=20 heater=false",
      "safe state of motor applied (scan s1 stopped): position=0",
      "safe state of motor applied (server stopping: SIGTERM): position=0",
      "safe state of thermo applied (server stopping: SIGTERM): setpoint=20 heater=false",
    ]);
    assert.ok(events.every((e) => e.severity === "info" && e.data !== undefined));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("task start --local on an address runs the task on the device that address opens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-task-addr-" });
  const r = await runCli([
    "task",
    "start",
    "sim://thermo?seed=2",
    "sample",
    "attrs=temperature",
    "--interval",
    "50ms",
    "--duration",
    "300ms",
    "--local",
  ], { cwd: dir });
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 0, r.stderr);
  const readings = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(readings.length >= 3, r.stdout);
  assert.deepEqual(Object.keys(readings[0]), ["t", "device", "temperature"]);
  assert.equal(readings[0].device, "thermo");
  assert.match(r.stderr, /^labwire task: t1 sample on thermo, running here\n/);
});

Deno.test("task start --local on a gauge that never answers: every sample an error reading, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-task-dead-" });
  const r = await runCli([
    "task",
    "start",
    `baratron://127.0.0.1:${closedPort()}`,
    "sample",
    "--interval",
    "100ms",
    "--duration",
    "400ms",
    "--local",
  ], { cwd: dir });
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 1, r.stderr);
  const readings = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(readings.length >= 1 && readings.every((x) => typeof x.error === "string"), r.stdout);
  assert.match(
    r.stderr,
    /t1 completed after \d+ samples, all failed \(last error: .*connection refused/,
  );
});

Deno.test("task start --follow into a pipe that closes stops the task, as Ctrl-C does; data --follow does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-task-pipe-" });
  await Deno.writeTextFile(`${dir}/bench.toml`, TASK_BENCH);
  const serve = await spawnServe(["--config", `${dir}/bench.toml`, "--no-record"]);
  try {
    const tasks = async () =>
      ((await call(`${serve.url}/api/tasks`)).body.tasks as { id: string; state: string }[])
        .map((t) => `${t.id} ${t.state}`);
    const started = await runShell(
      `labwire task start thermo sample attrs=temperature --interval 50ms --follow --url ${serve.url} | head -1`,
    );
    assert.equal(started.code, 0, started.stderr);
    assert.equal(JSON.parse(started.stdout).device, "thermo");
    assert.match(started.stderr, /stdout closed: stopping t1…\nlabwire task: t1 stopped after/);
    assert.deepEqual(await tasks(), ["t1 stopped"]);
    // also when the task has nothing more to print for an hour: the reader's leaving is noticed
    // without a write (the hang guard is timeout's exit 124)
    const idle = await runShell(
      `export -f labwire; timeout 30 bash -o pipefail -c "labwire task start thermo sample attrs=temperature --interval 1h --follow --url ${serve.url} | head -1"`,
    );
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stderr, /stdout closed: stopping t2…/);
    assert.deepEqual(await tasks(), ["t1 stopped", "t2 stopped"]);

    // a reader of someone else's task leaves it running when its pipe closes
    const own = await call(`${serve.url}/api/devices/thermo/tasks`, "POST", {
      technique: "sample",
      sampling_interval: 0.05,
    });
    const id = own.body.id as string;
    const read = await runShell(`labwire task data ${id} --follow --url ${serve.url} | head -1`);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(JSON.parse(read.stdout).device, "thermo");
    assert.deepEqual(await tasks(), ["t1 stopped", "t2 stopped", `${id} running`]);
    await call(`${serve.url}/api/tasks/${id}`, "DELETE");
  } finally {
    await serve.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
