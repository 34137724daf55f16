/**
 * `labwire serve` as a process: SIGTERM with open SSE clients, refusing to listen beyond loopback
 * without a token, journald priorities, the systemd unit.
 */
import assert from "node:assert/strict";
import { TEST_BENCH, until } from "./serve_fixture.ts";
import { spawnServe } from "./labwire_process.ts";
import { runCli } from "./run_cli.ts";

Deno.test("SIGTERM with open SSE clients: streams end, session flushed, exit 0 within 5 s", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-sigterm-" });
  try {
    await Deno.writeTextFile(`${dir}/bench.toml`, TEST_BENCH);
    const { url, lines, stop } = await spawnServe([
      "--config",
      `${dir}/bench.toml`,
      "--session",
      `${dir}/s.sqlite`,
    ]);
    const clients = await Promise.all(
      [0, 1, 2].map(async () => {
        const res = await fetch(`${url}/api/stream`);
        const reader = res.body!.getReader();
        await reader.read();
        return reader;
      }),
    );
    // Each client drains until the server ends its stream.
    const ended = clients.map(async (r) => {
      while (!(await r.read()).done) { /* drain */ }
      return true;
    });
    const sent = Date.now();
    // fails when still running 5 s after SIGTERM
    assert.equal(await stop("SIGTERM", 5000), 0, lines.join("\n"));
    assert.deepEqual(await Promise.all(ended), [true, true, true]);
    assert.ok(lines.some((l) => /stopping/.test(l)), lines.join("\n"));
    // The session was closed cleanly: its segment has a stop reason.
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(`${dir}/s.sqlite`, { readOnly: true });
    const seg = db.prepare("SELECT stop, reason FROM segments ORDER BY id DESC LIMIT 1").get() as {
      stop: number | null;
      reason: string | null;
    };
    const rows = db.prepare("SELECT count(*) AS n FROM samples").get() as { n: number };
    db.close();
    assert.ok(seg.stop !== null && seg.stop * 1000 >= sent - 1000, JSON.stringify(seg));
    assert.ok(Number(rows.n) > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve beyond loopback without a token exits 2 with a clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-token-" });
  try {
    await Deno.writeTextFile(`${dir}/bench.toml`, TEST_BENCH);
    const serveAnywhere = (token: string) =>
      runCli(["serve", "--config", `${dir}/bench.toml`, "--listen", "0.0.0.0:0", "--no-record"], {
        env: { LABWIRE_TOKEN: token },
      });
    const out = await serveAnywhere("");
    const err = out.stderr;
    assert.equal(out.code, 2, err);
    assert.match(err, /refusing to listen on 0\.0\.0\.0:0 without a token/);
    assert.match(err, /--token-file FILE/);
    const short = await serveAnywhere("short");
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 16 characters/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("under systemd (JOURNAL_STREAM) log lines carry <N> priorities", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-journal-" });
  try {
    await Deno.writeTextFile(`${dir}/bench.toml`, TEST_BENCH);
    const { url, lines, stop } = await spawnServe(
      ["--config", `${dir}/bench.toml`, "--no-record"],
      { env: { JOURNAL_STREAM: "8:12345" } },
    );
    // A write is logged (and nothing else, such as a runtime warning, breaks the line format).
    const put = await fetch(`${url}/api/devices/motor/attrs/position`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: 1 }),
    });
    assert.equal(put.status, 200);
    await put.body?.cancel();
    assert.equal(await stop("SIGINT"), 0);
    assert.ok(lines.length >= 2);
    for (const l of lines) assert.match(l, /^<[3-7]>/, l);
    assert.ok(lines.some((l) => l.startsWith("<5>serving 4 devices on http://127.0.0.1:")));
    assert.ok(
      lines.some((l) => l === "<6>write motor.position = 1 (read-back 1)"),
      lines.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve --print-systemd-unit prints a hardened unit on stdout", async () => {
  const out = await runCli([
    "serve",
    "--print-systemd-unit",
    "--listen",
    "0.0.0.0:8600",
    "--token-file",
    "/etc/labwire/token",
  ]);
  assert.equal(out.code, 0);
  const unit = out.stdout;
  assert.match(unit, /^\[Service\]$/m);
  assert.match(
    unit,
    /^ExecStart=\S+ serve --config \/etc\/labwire\/labwire\.toml --listen 0\.0\.0\.0:8600 /m,
  );
  assert.match(unit, /^DynamicUser=yes$/m);
  assert.match(unit, /^ProtectSystem=strict$/m);
});

Deno.test("serve --demo serves the demo bench and prints the dashboard URL on stderr", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-demo-" });
  try {
    const { url, lines, stop } = await spawnServe(["--demo", "--session", `${dir}/demo.sqlite`]);
    await until(
      () => lines.some((l) => l === `labwire serve: dashboard: ${url}/`),
      5000,
      "the dashboard line",
    );
    const page = await fetch(`${url}/`);
    assert.match(await page.text(), /<title>labwire<\/title>/);
    const devices = await (await fetch(`${url}/api/devices`)).json();
    assert.deepEqual(
      devices.devices.map((d: { name: string }) => d.name),
      ["gauge", "thermo", "motor", "dmm", "det"],
    );
    assert.equal(await stop(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
