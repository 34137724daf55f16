/**
 * The parse rule of a message-family attribute, compiled from its `[attrs.NAME]` table: which
 * kind of value the answer holds and how to take it out (a regex group, a layout's field, a
 * token, a map, bit flags, a binary block). Used by the definition compiler; the codec that
 * applies the rule is `lib/drivers/message/protocol.ts`.
 *
 * @module
 */
import type { Fail } from "./channels.ts";
import type { ParseKind, RawAttr } from "./schema.ts";
import type { Layout, ParseRule } from "./template.ts";

/**
 * Compiles how a message-family attribute's answer is parsed (`parse`, or the kind its `type`,
 * `map` or `bits` imply; `regex`, `layout` + `token`, `split`, `map`, `bits`, `block`, `scale`,
 * `mask`), checking each piece against the others; `fail` names the key of a mistake.
 */
export function compileParseRule(
  a: RawAttr,
  key: string,
  layouts: Record<string, Layout>,
  fail: Fail,
  regex: (text: string | undefined, key: string) => RegExp | undefined,
): ParseRule {
  const kind: ParseKind = a.parse ??
    (a.type === "number[]"
      ? "numbers"
      : a.type as ParseKind | undefined ?? (a.map
        ? (Object.values(a.map).every((v) => typeof v === "boolean") ? "boolean" : "enum")
        : a.bits
        ? "flags"
        : "number"));
  const rule: ParseRule = { kind };
  if (a.regex !== undefined) {
    rule.regex = regex(a.regex, `${key}.regex`);
    if (!/\((?!\?)/.test(a.regex)) {
      fail(`${key}.regex`, "needs a capture group: (…) around the value");
    }
  }
  if (a.layout !== undefined) {
    const l = layouts[a.layout];
    if (!l) fail(`${key}.layout`, `no layout "${a.layout}"; declare [layouts.${a.layout}]`);
    rule.layout = l;
    if (typeof a.token !== "string") fail(`${key}.token`, "with a layout, token is a field name");
    const names = new Set([
      ...(l!.fields ?? []),
      ...Object.values(l!.byCount ?? {}).flat(),
      ...(l!.textField ? [l!.textField] : []),
      "status",
    ]);
    if (!names.has(a.token as string)) {
      fail(
        `${key}.token`,
        `layout "${a.layout}" has no field "${a.token}"; it has ${[...names].join(", ")}`,
      );
    }
  } else if (typeof a.token === "string") {
    fail(`${key}.token`, "a field name needs a layout; without one, token is a 0-based index");
  }
  if (a.token !== undefined) rule.token = a.token;
  if (a.split !== undefined) rule.split = a.split;
  if (a.map !== undefined) {
    if (kind === "boolean" && !Object.values(a.map).every((v) => typeof v === "boolean")) {
      fail(`${key}.map`, "a boolean's map gives true or false");
    }
    rule.map = a.map;
  }
  if (kind === "flags") {
    if (!a.bits) fail(`${key}.bits`, 'flags need bits = { "1" = "name", … }');
    rule.bits = Object.entries(a.bits!).map(([bit, name]) => {
      const n = Number(bit);
      if (!Number.isInteger(n) || n <= 0) {
        fail(`${key}.bits.${bit}`, "keys are bit values (1, 2, 4, …)");
      }
      return [n, name] as [number, string];
    });
  }
  if (kind === "block") rule.block = a.block ?? "ascii";
  if (a.scale !== undefined) rule.scale = a.scale;
  if (a.mask !== undefined) rule.mask = a.mask;
  if (a.format === "index" && kind !== "enum") {
    fail(`${key}.format`, '"index" writes an enum option\'s position');
  }
  return rule;
}
