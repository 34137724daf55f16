/**
 * `labwire completions` in real shells: the bash script is sourced and asked with `compgen`-style
 * calls of its function (verbs, flags, flag values, config device names, instrument names); fish
 * is asked with `complete -C`; zsh completes with Tab in an interactive shell on a pty. `labwire` on PATH is a shim
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
ask labwire task ""
ask labwire position r
ask labwire stream --format ""
ask labwire session export x.session.sqlite -f ""
ask labwire task data t3 -f --fol
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
      "[list info export tail note add]",
      "[bash zsh fish]",
      "[--json]",
      "[start list status stop data]",
      "[restore]",
      // each verb's own formats: not `none` for stream, not `table` for session export
      "[table ndjson csv]",
      "[csv ndjson]",
      // task's -f is --follow, not --format: its flags still complete after it
      "[--follow]",
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
complete -C "labwire read --config bench.toml th"; echo ==
complete -C "labwire instruments show keysight-3"; echo ==
complete -C "labwire stream --format "`,
      );
      const [verbs, flags, devices, instruments, formats] = out.split("==\n").map((s) =>
        s.trim().split("\n")
      );
      assert.deepEqual(formats?.sort(), ["csv", "ndjson", "table"]);
      assert.deepEqual(verbs, ["read\tone reading of one or more devices, as one JSON document"]);
      assert.deepEqual(flags, ["--time", "--timeout"]);
      assert.deepEqual(devices, ["thermo"]);
      assert.deepEqual(instruments?.map((l) => l.split("\t")[0]), [
        "keysight-34461a",
        "keysight-34465a",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * Interactive zsh on a pseudo-terminal (zsh/zpty) with the completion system (`compinit`) and the
 * script sourced: `compadd` is wrapped to print every candidate (and its description) as
 * completion offers it, and a Tab completes the words given. After Valodim's
 * zsh-capture-completion (MIT): NUL lines printed before and after completion mark the output.
 */
const ZSH_INIT = `PROMPT=
autoload -U compinit
compinit -u -d "$HOME/.zcompdump"
source ./labwire.zsh
bindkey '^M' undefined
bindkey '^J' undefined
bindkey '^I' complete-word
null-line () { echo -E - $'\\0' }
compprefuncs=( null-line )
comppostfuncs=( null-line exit )
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' list-separator ''
compadd () {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
    builtin compadd "$@"
    return $?
  fi
  typeset -a __hits __dscr __tmp
  if (( $@[(I)-d] )); then
    __tmp=\${@[$[\${@[(i)-d]}+1]]}
    if [[ $__tmp == \\(* ]]; then
      eval "__dscr=$__tmp"
    else
      __dscr=( "\${(@P)__tmp}" )
    fi
  fi
  builtin compadd -A __hits -D __dscr "$@"
  [[ -n $__hits ]] || return
  local i
  for i in {1..$#__hits}; do
    echo -E - "$__hits[$i]\${__dscr[$i]:+ -- $__dscr[$i]}"
  done
}
echo ok
`;

/** Drives ZSH_INIT's shell: the words to complete are the arguments, a Tab follows them. */
const ZSH_CAPTURE = `zmodload zsh/zpty || exit 3
zpty z zsh -f -i
local line
zpty -w z "source ./init.zsh"
repeat 8; do
  zpty -r z line
  [[ $line == ok* ]] && break
done
[[ $line == ok* ]] || { echo 'the interactive zsh did not start' >&2; exit 2 }
zpty -w z "$*"$'\\t'
integer tog=0
while zpty -r z; do :; done | while IFS= read -r line; do
  if [[ $line == *$'\\0\\r' ]]; then
    (( tog++ )) && exit 0 || continue
  fi
  (( tog )) && echo -E - \${line%$'\\r'}
done
exit 2
`;

peerTest(
  "zsh: Tab in an interactive zsh completes verbs, flags, values, config devices and instruments",
  () => findProgram("zsh") ? [] : ["zsh"],
  async () => {
    const { dir, env } = await setUp();
    try {
      await Deno.writeTextFile(`${dir}/init.zsh`, ZSH_INIT);
      await Deno.writeTextFile(`${dir}/capture.zsh`, ZSH_CAPTURE);
      const complete = async (line: string) =>
        (await inShell("zsh", dir, env, `source ./capture.zsh ${JSON.stringify(line)}`))
          .split("\n").map((l) => l.trimEnd()).filter((l) => l !== "");
      const words = (lines: string[]) => lines.map((l) => l.split(" -- ")[0]!).sort();
      // The first call writes the completion dump; the others start from it.
      const verbs = await complete("labwire s");
      assert.deepEqual(words(verbs), ["scan", "serve", "session", "sim", "stream"]);
      assert.ok(
        verbs.some((l) => l.startsWith("stream -- stream") && l.includes("continuous readings")),
        verbs.join("\n"),
      );
      assert.deepEqual(await complete("labwire stream --at"), ["--attrs"]);
      assert.deepEqual(words(await complete("labwire stream --time ")), ["epoch", "iso"]);
      assert.deepEqual(words(await complete("labwire read --config bench.toml ")), [
        "dmm",
        "gauge",
        "thermo",
      ]);
      assert.deepEqual(await complete("labwire write --demo th"), ["thermo"]);
      assert.deepEqual(words(await complete("labwire instruments show keysight-3")), [
        "keysight-34461a",
        "keysight-34465a",
      ]);
      assert.deepEqual(words(await complete("labwire session ")), [
        "add",
        "export",
        "info",
        "list",
        "note",
        "tail",
      ]);
      assert.deepEqual(words(await complete("labwire session export x.sqlite --format ")), [
        "csv",
        "ndjson",
      ]);
      assert.deepEqual(await complete("labwire task data t3 -f --fol"), ["--follow"]);
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
  const two = await runCli(["completions", "bash", "zsh"]);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /^labwire completions: one shell, got bash zsh\n/);
});
