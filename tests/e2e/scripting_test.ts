/**
 * The scripting API as a user meets it: the `@example` blocks of `mod.ts` run under
 * `deno test --doc`, and the README's "Scripting" script, taken from the README as written, runs
 * against the `sim://` devices and mails the aiosmtpd sink.
 */
import assert from "node:assert/strict";
import { peerTest } from "../peers.ts";
import { needsSmtp, received, startSmtp } from "../interop/smtp_sink.ts";

const ROOT = new URL("../../", import.meta.url);

/** The first ```ts block of the README's section `heading`. */
export async function readmeScript(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no "${heading}" section`);
  const m = /\n```ts\n([\s\S]*?)\n```\n/.exec(readme.slice(start));
  assert.ok(m, `the "${heading}" section has no ts block`);
  return m[1]!;
}

Deno.test("mod.ts: every @example runs under deno test --doc", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--doc", "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  const passed = Number(/ok \| (\d+) passed \| 0 failed/.exec(text)?.[1]);
  assert.ok(passed >= 8, text);
});

peerTest(
  "README Scripting: the monitoring loop records entries and mails once",
  needsSmtp,
  async () => {
    const script = await readmeScript("## Scripting");
    assert.match(script, /from "\.\/mod\.ts";/);
    const dir = await Deno.makeTempDir({ prefix: "labwire-script-" });
    const smtp = await startSmtp(["--mode", "plain"]);
    try {
      // as written, but importing mod.ts from this checkout: the script runs in a temp dir
      await Deno.writeTextFile(
        `${dir}/watch.ts`,
        script.replace('"./mod.ts"', JSON.stringify(new URL("mod.ts", ROOT).href)),
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", new URL("deno.json", ROOT).pathname, "watch.ts"],
        cwd: dir,
        env: { SMTP_PORT: String(smtp.port), NO_COLOR: "1" },
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.ok(out.success, stdout + new TextDecoder().decode(out.stderr));
      const lines = stdout.trim().split("\n");
      assert.equal(lines.length, 6, stdout);
      for (const l of lines.slice(0, 5)) {
        const m = /^pressure_pa=([\d.]+) temperature=([\d.]+)$/.exec(l);
        assert.ok(m, l);
        assert.ok(Math.abs(Number(m[1]) - 100) < 10, l); // the sim gauge reads ~0.75 torr
      }
      const last = /^(\d+) samples recorded; mail sent: true$/.exec(lines[5]!);
      assert.ok(last && Number(last[1]) > 0, lines[5]);
      const mails = await received(smtp.dir);
      assert.equal(mails.length, 1);
      assert.deepEqual(mails[0]!.meta.rcpt_tos, ["me@example.org"]);
      const subject = /^pressure ([\d.]+) Pa is above 50 Pa$/.exec(
        mails[0]!.headers.get("subject")!,
      );
      assert.ok(
        subject && Math.abs(Number(subject[1]) - 100) < 10,
        mails[0]!.headers.get("subject"),
      );
      assert.match(mails[0]!.body, new RegExp(`^gauge: ${subject[1]} Pa at [\\d.]+ °C\n`));
    } finally {
      await smtp.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
