/**
 * `labwire serve` re-reading its config on SIGHUP applies the new `[[alarms]]` with the devices:
 * a device the file adds comes with its rule, and a file whose alarms are wrong changes nothing.
 */
import assert from "node:assert/strict";
import { spawnServe } from "./labwire_process.ts";
import { until } from "./serve_fixture.ts";

/** A rule that holds for any pressure, so it is active from the first sample. */
const rule = (name: string, device: string) =>
  `\n[[alarms]]\nname = "${name}"\ndevice = "${device}"\nattr = "pressure"\ncompare = ">"\ntrip = -1\n`;

const BENCH = '[devices.g]\naddress = "sim://gauge?seed=1"\ninterval = "100ms"\n' +
  rule("g_any", "g");

Deno.test("serve: SIGHUP brings a new device's alarm rules, and refuses a file with wrong ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-reload-alarms-" });
  const file = `${dir}/bench.toml`;
  await Deno.writeTextFile(file, BENCH);
  const s = await spawnServe([file, "--no-record"]);
  const active = async () =>
    ((await (await fetch(`${s.url}/api/alarms`)).json()).active as { name: string }[])
      .map((a) => a.name).sort();
  try {
    await until(async () => (await active()).includes("g_any"), 10_000, "g_any");

    await Deno.writeTextFile(
      file,
      BENCH + '\n[devices.h]\naddress = "sim://gauge?seed=3"\ninterval = "100ms"\n' +
        rule("h_any", "h"),
    );
    s.child.kill("SIGHUP");
    await s.waitFor(/SIGHUP: .* re-read: added h$/, 10_000);
    await until(async () => (await active()).includes("h_any"), 10_000, "h_any");
    assert.deepEqual(await active(), ["g_any", "h_any"]);

    await Deno.writeTextFile(file, BENCH + rule("x_any", "nope"));
    s.child.kill("SIGHUP");
    const refused = await s.waitFor(/SIGHUP: (.*)devices stay as they were/, 10_000);
    assert.match(refused[1]!, /nope/);
    assert.deepEqual(await active(), ["g_any", "h_any"], "nothing changed");
  } finally {
    assert.equal(await s.stop(), 0, s.lines.join("\n"));
    await Deno.remove(dir, { recursive: true });
  }
});
