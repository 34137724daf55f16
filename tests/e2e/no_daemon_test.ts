/**
 * The verbs that ask a daemon (`devices --server`, `task`) say the same kind of thing when no
 * labwire daemon answers: the URL tried, what happened there (connection refused, no answer in
 * time, something else answering) and what to do (is it running, `systemctl status labwire`, the
 * flag, `$LABWIRE_URL` or the config's `[server] listen` naming another address), exit 1.
 */
import assert from "node:assert/strict";
import { closedPort, runCli } from "./run_cli.ts";
import { hungServer } from "./hung_server.ts";

const ADVICE =
  /\n {2}is it running\? systemctl status labwire .*another address: (--server|--url) URL, \$LABWIRE_URL, or \[server\] listen in the config\n$/;

Deno.test("devices --server and task: nothing listening, a hung listener and a foreign server each say what to do", async () => {
  const empty = await Deno.makeTempDir({ prefix: "labwire-no-daemon-" });
  const hung = hungServer();
  // a web server that is not labwire: a proxy asking for its own login
  const foreign = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("<html>401 Authorization Required</html>", { status: 401 }),
  );
  const run = (args: string[]) => runCli(args, { cwd: empty });
  try {
    const refused = `http://127.0.0.1:${closedPort()}`;
    const asked = [
      [["devices", "--server", refused], "--server"],
      [["task", "list", "--url", refused], "--url"],
      // task takes devices' --server too, and names it back
      [["task", "list", "--server", refused], "--server"],
    ] as const;
    for (const [args, flag] of asked) {
      const r = await run([...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`no labwire daemon answered at ${refused} \\(connection refused\\)\\n`),
      );
      assert.match(r.stderr, ADVICE);
      assert.ok(r.stderr.includes(`another address: ${flag} URL`), r.stderr);
    }

    const slow = `http://127.0.0.1:${hung.port}`;
    const devices = await run(["devices", "--server", slow]);
    assert.equal(devices.code, 1, devices.stderr);
    assert.match(devices.stderr, /no labwire daemon answered at .* \(no answer within 1 s\)\n/);
    assert.match(devices.stderr, ADVICE);
    const task = await run(["task", "status", "t1", "--url", slow]);
    assert.equal(task.code, 1, task.stderr);
    assert.match(task.stderr, /no labwire daemon answered at .* \(no answer within 10 s\)\n/);
    assert.match(task.stderr, ADVICE);
    // a labwire:// device on a daemon that does not answer says what to check, as other drivers do
    const device = await run([
      "read",
      `labwire://127.0.0.1:${hung.port}/gauge`,
      "--timeout",
      "500ms",
    ]);
    assert.equal(device.code, 1, device.stderr);
    assert.match(
      device.stderr,
      /no answer within 500 ms; check that the labwire serve there is running and not overloaded, or allow more time with \?timeout=\n$/,
    );

    const other = `http://127.0.0.1:${foreign.addr.port}`;
    for (const args of [["devices", "--server", other], ["task", "list", "--url", other]]) {
      const r = await run(args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /no labwire daemon answered at .* \(GET \/api\/\w+ answered HTTP 401/);
      assert.match(
        r.stderr,
        /\n {2}something else listens there: give labwire serve's URL with --(server|url) URL/,
      );
    }
  } finally {
    hung.close();
    await foreign.shutdown();
    await Deno.remove(empty, { recursive: true });
  }
});
