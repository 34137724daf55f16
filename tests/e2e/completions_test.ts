/**
 * `labwire completions` in real shells: the bash script is sourced and asked with `compgen`-style
 * calls of its function (verbs, flags, flag values, config device names, instrument names); fish
 * is asked with `complete -C`; zsh checks the script's syntax. `labwire` on PATH is a shim
 * running this checkout, as an installed binary would be.
 */
import assert from "node:assert/strict";
import { findProgram, peerTest } from "../peers.ts";
import { ROOT, runCli, SIM_BENCH_CONFIG } from "./run_cli.ts";

/** A temp dir with a `labwire` shim on PATH, a bench config and the scripts of every shell. */
async function setUp(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-completions-" });
  await Deno.mkdir(`${dir}/bin`);
  await Deno.writeTextFile(
    `${dir}/bin/labwire`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${ROOT}main.ts" "$@"\n`,
  );
  await Deno.chmod(`${dir}/bin/labwire`, 0o755);
  await Deno.writeTextFile(`${dir}/bench.toml`, SIM_BENCH_CONFIG);
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await runCli(["completions", shell]);
    assert.equal(r.code, 0, r.stderr);
    await Deno.writeTextFile(`${dir}/labwire.${shell}`, r.stdout);
  }
  const env = { PATH: `${dir}/bin:${Deno.env.get("PATH")}`, NO_COLOR: "1", HOME: dir };
  return { dir, env };
}

/** Runs `script` in `shell` inside `dir`; returns stdout (asserting success). */
async function inShell(shell: string, dir: string, env: Record<string, string>, script: string) {
  const out = await new Deno.Command(shell, {
    args: ["-c", script],
    cwd: dir,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test("bash: sourced script completes verbs, flags, values, config devices and instruments", async () => {
  const { dir, env } = await setUp();
  try {
    // One completion per line: `ask WORDS…` completes the last word.
    const script = `source ./labwire.bash
complete -p labwire
ask() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _labwire; echo "[\${COMPREPLY[*]}]"; }
ask labwire s
ask labwire stream --at
ask labwire stream --time ""
ask labwire read --config bench.toml ""
ask labwire read --demo g
ask labwire instruments show keysight-3
ask labwire session ""
ask labwire completions ""
ask labwire devices --j
`;
    const lines = (await inShell("bash", dir, env, script)).trim().split("\n");
    assert.equal(lines[0], "complete -o default -F _labwire labwire");
    assert.deepEqual(lines.slice(1), [
      "[stream serve scan sim session]",
      "[--attrs]",
      "[epoch iso]",
      "[dmm thermo gauge]",
      "[gauge]",
      "[keysight-34461a keysight-34465a]",
      "[list info export tail]",
      "[bash zsh fish]",
      "[--json]",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

peerTest(
  "fish: complete -C answers verbs, flags and config devices",
  () => findProgram("fish") ? [] : ["fish"],
  async () => {
    const { dir, env } = await setUp();
    try {
      const out = await inShell(
        "fish",
        dir,
        env,
        `source ./labwire.fish
complete -C "labwire rea"; echo ==
complete -C "labwire stream --tim"; echo ==
complete -C "labwire read --config bench.toml th"`,
      );
      const [verbs, flags, devices] = out.split("==\n").map((s) => s.trim().split("\n"));
      assert.deepEqual(verbs, ["read\tone reading of one or more devices, as one JSON document"]);
      assert.deepEqual(flags, ["--time", "--timeout"]);
      assert.deepEqual(devices, ["thermo"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "zsh: the script parses and registers _labwire",
  () => findProgram("zsh") ? [] : ["zsh"],
  async () => {
    const { dir, env } = await setUp();
    try {
      const out = await inShell(
        "zsh",
        dir,
        env,
        `autoload -U compinit && compinit -u -D; source ./labwire.zsh; print -r -- $_comps[labwire]`,
      );
      assert.equal(out.trim(), "_labwire");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("completions: a wrong shell is a usage error with a suggestion", async () => {
  const r = await runCli(["completions", "bsh"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /"bsh" is not one of bash, zsh, fish/);
  assert.match(r.stderr, /did you mean "bash"/);
});
