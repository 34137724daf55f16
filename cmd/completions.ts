/**
 * `labwire completions bash|zsh|fish` — a shell completion script: verbs, each verb's flags, flag
 * values (formats, `--time`), files where a verb takes a file, and, asked of labwire itself while
 * completing, the device names of the config in use and the instrument names.
 *
 * The verbs and their flags come from the verbs' own help texts (the flags section), so a new
 * flag is completed as soon as it is documented. Device and instrument names are looked up at
 * completion time with the hidden `labwire completions --names devices|instruments|sim`, so they
 * follow the config file and user definitions without regenerating the script.
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { boolFlag, COMMON_FLAGS, parseFlags, stringFlag } from "../lib/cli/flags.ts";
import { UsageError } from "../lib/device/errors.ts";
import { didYouMean, suggestionThen } from "../lib/device/suggest.ts";
import { PLAN_WORDS } from "../lib/scan/plan_args.ts";
import { stdoutSink } from "../lib/output/stdout.ts";

/** A verb as the completion script needs it. */
export interface CompletedVerb {
  /** The verb. */
  name: string;
  /** Its one-line summary (fish and zsh show it). */
  summary: string;
  /** Its flags, long and short (`--attrs`, `-a`). */
  flags: string[];
}

/** What a verb completes for its positional arguments. */
const POSITIONALS: Record<string, string> = {
  read: "devices",
  write: "devices",
  stream: "devices",
  query: "devices",
  scan: "plans",
  sim: "sim",
  monitor: "files",
  serve: "files",
  devices: "files",
  instruments: "instruments",
  session: "session",
  task: "task",
  position: "position",
  completions: "shells",
};

/** Fixed words some positionals complete to. */
export const WORDS: Record<string, string[]> = {
  plans: [...PLAN_WORDS],
  session: ["list", "info", "export", "tail", "note", "add"],
  task: ["start", "list", "status", "stop", "data"],
  position: ["save", "restore", "list", "show", "delete"],
  instruments: ["list", "show", "check"],
  shells: ["bash", "zsh", "fish"],
};

/** Flags whose value is a file. */
const FILE_FLAGS = ["--config", "-c", "--session", "--out", "-o", "--plan", "-p", "--instruments"];

/** Flags whose value is one of a few words, the same for every verb. */
const VALUE_FLAGS: Record<string, string[]> = {
  "--time": ["epoch", "iso"],
};

/**
 * The `--format` values each verb takes (`json`, an alias of `ndjson`, left out): one list for
 * all offered `table` to `session export` and `none` to `stream`, which refuse them.
 */
const FORMATS: Record<string, string[]> = {
  stream: ["table", "ndjson", "csv"],
  scan: ["table", "ndjson", "csv"],
  monitor: ["table", "ndjson", "csv", "none"],
  session: ["csv", "ndjson"],
};

/** The shells a script is printed for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/**
 * The flags a help text documents: every `--flag` (and its `-x` alias) of lines that start with
 * one, in order, plus the flags every verb takes.
 *
 * @example
 * ```ts
 * import { flagsOfHelp } from "./completions.ts";
 * flagsOfHelp("Flags:\n  -a, --attrs a,b   read these\n      --compact  one line").slice(0, 3);
 * // ["-a", "--attrs", "--compact"]
 * ```
 */
export function flagsOfHelp(help: string): string[] {
  const out: string[] = [];
  for (const line of help.split("\n")) {
    const m = /^\s+(?:(-[A-Za-z]),\s+)?(--[a-z][a-z0-9-]*)/.exec(line);
    if (!m) continue;
    for (const f of [m[1], m[2]]) if (f && !out.includes(f)) out.push(f);
  }
  for (const [name, spec] of Object.entries(COMMON_FLAGS)) {
    for (const f of [spec.short ? `-${spec.short}` : undefined, `--${name}`]) {
      if (f && !out.includes(f)) out.push(f);
    }
  }
  return out;
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const words = (list: readonly string[]) => list.join(" ");

/** The bash script (also what zsh's and fish's scripts do, in their own words). */
export function bashScript(verbs: readonly CompletedVerb[]): string {
  const flagCases = verbs.map((v) => `    ${v.name}) flags=${q(words(v.flags))} ;;`).join("\n");
  const posCases = Object.entries(POSITIONALS).map(([verb, kind]) => `    ${verb}) kind=${kind} ;;`)
    .join("\n");
  const wordCases = Object.entries(WORDS).map(([kind, list]) =>
    `    ${kind}) list=${q(words(list))} ;;`
  )
    .join("\n");
  const valueCases = [
    ...Object.entries(VALUE_FLAGS).map(([flag, list]) =>
      `    ${flag}) COMPREPLY=($(compgen -W ${q(words(list))} -- "$cur")); return ;;`
    ),
    `    --format|-f)\n      case "$verb" in\n${
      Object.entries(FORMATS).map(([verb, list]) =>
        `        ${verb}) COMPREPLY=($(compgen -W ${q(words(list))} -- "$cur")); return ;;`
      ).join("\n")
    }\n      esac ;;`,
  ].join("\n");
  return `# labwire completion for bash. Install:
#   labwire completions bash > ~/.local/share/bash-completion/completions/labwire
# or add to ~/.bashrc:  source <(labwire completions bash)
_labwire() {
  local cur prev verb i kind list flags cfg=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  verb="\${COMP_WORDS[1]}"
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W ${
    q(words([...verbs.map((v) => v.name), "help", "--help", "--version"]))
  } -- "$cur"))
    return
  fi
  case "$prev" in
    ${FILE_FLAGS.join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
${valueCases}
  esac
  if [[ "$cur" == -* ]]; then
    case "$verb" in
${flagCases}
      *) flags="" ;;
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  # the config the command line names, so device names come from it
  for ((i = 2; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --demo) cfg=(--demo) ;;
      --config|-c) cfg=(--config "\${COMP_WORDS[i+1]}") ;;
      --config=*) cfg=("\${COMP_WORDS[i]}") ;;
    esac
  done
  kind=""
  case "$verb" in
${posCases}
    help) kind=verbs ;;
  esac
  case "$kind" in
    devices|sim)
      list="$(labwire completions --names "$kind" "\${cfg[@]}" 2>/dev/null)"
      COMPREPLY=($(compgen -W "$list" -- "$cur")) ;;
    files) COMPREPLY=($(compgen -f -- "$cur")) ;;
    verbs) COMPREPLY=($(compgen -W ${q(words(verbs.map((v) => v.name)))} -- "$cur")) ;;
    instruments)
      if [[ $COMP_CWORD -eq 2 ]]; then
        COMPREPLY=($(compgen -W ${q(words(WORDS.instruments!))} -- "$cur"))
      elif [[ "\${COMP_WORDS[2]}" == show ]]; then
        list="$(labwire completions --names instruments 2>/dev/null)"
        COMPREPLY=($(compgen -W "$list" -- "$cur"))
      else
        COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    *)
      case "$kind" in
${wordCases}
        *) list="" ;;
      esac
      if [[ $COMP_CWORD -eq 2 ]]; then
        COMPREPLY=($(compgen -W "$list" -- "$cur"))
      else
        COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
  esac
}
complete -o default -F _labwire labwire
`;
}

/** The zsh script: the same rules with zsh's completion words and verb descriptions. */
export function zshScript(verbs: readonly CompletedVerb[]): string {
  const described = verbs.map((v) => q(`${v.name}:${v.summary.replaceAll(":", "\\:")}`)).join(
    " ",
  );
  const flagCases = verbs.map((v) => `    ${v.name}) compadd -- ${words(v.flags)} ;;`).join("\n");
  const posCases = Object.entries(POSITIONALS).map(([verb, kind]) => `    ${verb}) kind=${kind} ;;`)
    .join("\n");
  const wordCases = Object.entries(WORDS).map(([kind, list]) =>
    `    ${kind}) list=(${words(list)}) ;;`
  )
    .join("\n");
  const valueCases = [
    ...Object.entries(VALUE_FLAGS).map(([flag, list]) =>
      `    ${flag}) compadd -- ${words(list)}; return ;;`
    ),
    `    --format|-f)\n      case $verb in\n${
      Object.entries(FORMATS).map(([verb, list]) =>
        `        ${verb}) compadd -- ${words(list)}; return ;;`
      ).join("\n")
    }\n      esac ;;`,
  ].join("\n");
  return `#compdef labwire
# labwire completion for zsh. Install: put it on your $fpath as _labwire, e.g.
#   labwire completions zsh > ~/.zfunc/_labwire   (with fpath=(~/.zfunc $fpath) before compinit)
# or add to ~/.zshrc after compinit:  source <(labwire completions zsh)
_labwire() {
  local verb=\${words[2]} prev=\${words[CURRENT-1]} cur=\${words[CURRENT]} kind i
  local -a list cfg verbs
  if (( CURRENT == 2 )); then
    verbs=(${described})
    _describe 'verb' verbs
    return
  fi
  case $prev in
    ${FILE_FLAGS.join("|")}) _files; return ;;
${valueCases}
  esac
  if [[ $cur == -* ]]; then
    case $verb in
${flagCases}
    esac
    return
  fi
  for (( i = 3; i < CURRENT; i++ )); do
    case \${words[i]} in
      --demo) cfg=(--demo) ;;
      --config|-c) cfg=(--config \${words[i+1]}) ;;
      --config=*) cfg=(\${words[i]}) ;;
    esac
  done
  case $verb in
${posCases}
    *) kind="" ;;
  esac
  case $kind in
    devices|sim) compadd -- \${(f)"$(labwire completions --names $kind $cfg 2>/dev/null)"} ;;
    files) _files ;;
    instruments)
      if (( CURRENT == 3 )); then compadd -- ${words(WORDS.instruments!)}
      elif [[ \${words[3]} == show ]]; then
        compadd -- \${(f)"$(labwire completions --names instruments 2>/dev/null)"}
      else _files; fi ;;
    *)
      case $kind in
${wordCases}
      esac
      if (( CURRENT == 3 )); then compadd -- $list; else _files; fi ;;
  esac
}
if [[ \${funcstack[1]} == _labwire ]]; then _labwire "$@"; else compdef _labwire labwire; fi
`;
}

/** The fish script: one `complete` line per verb, flag and dynamic list. */
export function fishScript(verbs: readonly CompletedVerb[]): string {
  const lines = [
    "# labwire completion for fish. Install:",
    "#   labwire completions fish > ~/.config/fish/completions/labwire.fish",
    "complete -c labwire -f",
    ...verbs.map((v) =>
      `complete -c labwire -n __fish_use_subcommand -a ${v.name} -d ${q(v.summary)}`
    ),
  ];
  for (const v of verbs) {
    const seen = `"__fish_seen_subcommand_from ${v.name}"`;
    for (const f of v.flags) {
      if (!f.startsWith("--")) continue;
      const short = v.flags[v.flags.indexOf(f) - 1];
      const s = short && /^-[A-Za-z]$/.test(short) ? ` -s ${short.slice(1)}` : "";
      const file = FILE_FLAGS.includes(f) ? " -r -F" : "";
      const choices = f === "--format" ? FORMATS[v.name] : VALUE_FLAGS[f];
      const values = choices ? ` -x -a ${q(words(choices))}` : "";
      lines.push(`complete -c labwire -n ${seen} -l ${f.slice(2)}${s}${file}${values}`);
    }
    const kind = POSITIONALS[v.name];
    if (kind === "devices" || kind === "sim") {
      lines.push(
        `complete -c labwire -n ${seen} -a "(labwire completions --names ${kind} (__fish_labwire_config) 2>/dev/null)"`,
      );
    } else if (kind === "files") {
      lines.push(`complete -c labwire -n ${seen} -F`);
    } else if (kind === "instruments") {
      lines.push(
        `complete -c labwire -n "${seen.slice(1, -1)}; and not __fish_seen_subcommand_from ${
          words(WORDS.instruments!)
        }" -a ${q(words(WORDS.instruments!))}`,
        `complete -c labwire -n "__fish_seen_subcommand_from show" -a "(labwire completions --names instruments 2>/dev/null)"`,
        `complete -c labwire -n "__fish_seen_subcommand_from check" -F`,
      );
    } else if (kind !== undefined && WORDS[kind]) {
      lines.push(`complete -c labwire -n ${seen} -a ${q(words(WORDS[kind]!))}`);
    }
  }
  return `${lines.join("\n")}
function __fish_labwire_config
    set -l args (commandline -opc)
    for i in (seq (count $args))
        switch $args[$i]
            case --demo
                echo --demo
            case --config -c
                set -l n (math $i + 1)
                test $n -le (count $args); and echo --config; and echo $args[$n]
        end
    end
end
`;
}

/** The names `--names KIND` prints, one per line. */
async function names(kind: string, args: string[]): Promise<string[]> {
  if (kind === "devices") {
    const f = parseFlags(args, {}, "completions");
    const { loadLabConfig } = await import("../lib/lab/setup.ts");
    const { config, cleanup } = await loadLabConfig({
      config: stringFlag(f, "config"),
      demo: boolFlag(f, "demo"),
    });
    await cleanup();
    return config.devices.map((d) => d.name);
  }
  const { instrumentNames } = await import("../lib/instruments/loader.ts");
  if (kind === "instruments") return await instrumentNames();
  if (kind === "sim") {
    const { SIM_KINDS } = await import("./sim.ts");
    return [...SIM_KINDS, ...await instrumentNames()];
  }
  throw new UsageError(
    `--names: "${kind}" is not one of devices, instruments, sim`,
    didYouMean(kind, ["devices", "instruments", "sim"]),
  );
}

/** The `completions` verb for these verbs (main.ts passes its verb list). */
export function completionsCommand(
  verbs: readonly { name: string; summary: string; load(): Promise<Command> }[],
): Command {
  const run = async (args: string[]): Promise<number> => {
    const i = args.indexOf("--names");
    if (i >= 0) {
      const kind = args[i + 1];
      if (kind === undefined) throw new UsageError("--names needs devices, instruments or sim");
      const rest = [...args.slice(0, i), ...args.slice(i + 2)];
      const list = await names(kind, rest);
      if (list.length) stdoutSink.write(list.join("\n") + "\n");
      return EXIT.ok;
    }
    const f = parseFlags(args, {}, "completions");
    const shell = f.positionals[0];
    if (shell === undefined || !(SHELLS as readonly string[]).includes(shell)) {
      throw new UsageError(
        shell === undefined
          ? "give the shell: bash, zsh or fish"
          : `"${shell}" is not one of bash, zsh, fish`,
        suggestionThen(shell, SHELLS, "see: labwire completions --help"),
      );
    }
    if (f.positionals.length > 1) {
      throw new UsageError(
        `one shell, got ${f.positionals.join(" ")}`,
        "e.g. labwire completions bash > ~/.local/share/bash-completion/completions/labwire",
      );
    }
    const described: CompletedVerb[] = [];
    for (const v of verbs) {
      const help = v.name === "completions" ? HELP : (await v.load()).help;
      described.push({ name: v.name, summary: v.summary, flags: flagsOfHelp(help) });
    }
    const script = shell === "bash"
      ? bashScript(described)
      : shell === "zsh"
      ? zshScript(described)
      : fishScript(described);
    stdoutSink.write(script);
    return EXIT.ok;
  };
  return { name: "completions", summary: SUMMARY, help: HELP, run };
}

const SUMMARY = "print a shell completion script: bash, zsh or fish";

const HELP = `labwire completions — a shell completion script

Usage: labwire completions bash|zsh|fish

Completes verbs, each verb's flags, --format and --time values, file names where
a verb takes a file, the device names of the config in use (./labwire.toml,
$LABWIRE_CONFIG, or the --config/--demo on the command line being completed) and
instrument names. Device and instrument names are looked up when you press Tab,
so the script never needs regenerating when the config changes.

Install:
  bash  labwire completions bash > ~/.local/share/bash-completion/completions/labwire
        (or in ~/.bashrc: source <(labwire completions bash))
  zsh   labwire completions zsh > ~/.zfunc/_labwire
        (with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc)
  fish  labwire completions fish > ~/.config/fish/completions/labwire.fish

Flags:
      --names KIND     print the names the scripts complete, one per line: devices
                       (of --config FILE or --demo), instruments, sim

Examples:
  labwire completions bash > /tmp/labwire.bash
  labwire completions --names devices --demo
  labwire completions fish | head -3
`;
