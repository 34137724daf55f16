/**
 * The expression language of derived attributes (`[derived.NAME]` in the config): arithmetic
 * (`+ - * / % ^`), comparisons (`< <= > >= == !=`), logic (`and or not`, `&& || !`), `c ? a : b`,
 * the functions `abs sqrt log10 ln exp min max round floor ceil`, `pi`, numbers, `"strings"`
 * (for comparing enums), `true`/`false`, and other attributes as `device.attr` (a device name
 * with `-` in backticks: `` `gauge-1.pressure` ``).
 *
 * Parsed by a small recursive-descent parser (no `eval`, no `Function`) into a tree of closures
 * over a slot array: evaluating reads the referenced values from their slots and costs a few
 * dozen nanoseconds (bench `derived`). A missing value (`null`) makes the result `null` (a gap
 * stays a gap), and so does a result that is not finite (`1/0`, `sqrt(-1)`); a value of the
 * wrong type (a string in arithmetic) is an error naming the reference.
 *
 * @module
 */
import type { Value } from "./attr.ts";
import { DeviceError, UsageError } from "./errors.ts";

/** What an expression evaluates to (its attribute's type). */
export type ExpressionType = "number" | "boolean" | "string";

/** A parsed expression, ready to evaluate. */
export interface Expression {
  /** The text it was parsed from. */
  readonly text: string;
  /** Every `device.attr` it reads, once each, in order of first use: the slots of `evaluate`. */
  readonly refs: readonly string[];
  /** The type of its result. */
  readonly type: ExpressionType;
  /** Evaluates with `values[i]` the value of `refs[i]`. */
  evaluate(values: readonly Value[]): Value;
}

/** A syntax error in an expression: says where, with the text and a caret. */
export class ExpressionError extends UsageError {
  /** Creates the error for `text` at character `at`. */
  constructor(message: string, readonly text: string, readonly at: number) {
    super(`${message} (character ${at + 1}):\n  ${text}\n  ${" ".repeat(at)}^`);
    this.name = "ExpressionError";
  }
}

/** The most characters an expression may have (a config value, not a program). */
export const MAX_EXPRESSION_LENGTH = 1000;

type Fn = (v: readonly Value[]) => Value;

interface Node {
  fn: Fn;
  type: ExpressionType | "any";
}

interface Token {
  kind: "num" | "str" | "ref" | "name" | "op" | "end";
  text: string;
  value?: number | string;
  at: number;
}

const OPS = [
  "**",
  "<=",
  ">=",
  "==",
  "!=",
  "&&",
  "||",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  "<",
  ">",
  "!",
  "(",
  ")",
  ",",
  "?",
  ":",
];

const FUNCTIONS: Record<string, { arity: [number, number]; f: (...a: number[]) => number }> = {
  abs: { arity: [1, 1], f: Math.abs },
  sqrt: { arity: [1, 1], f: Math.sqrt },
  log10: { arity: [1, 1], f: Math.log10 },
  ln: { arity: [1, 1], f: Math.log },
  exp: { arity: [1, 1], f: Math.exp },
  round: { arity: [1, 1], f: Math.round },
  floor: { arity: [1, 1], f: Math.floor },
  ceil: { arity: [1, 1], f: Math.ceil },
  min: { arity: [1, 16], f: Math.min },
  max: { arity: [1, 16], f: Math.max },
};

/** The function names the language knows, for messages and docs. */
export const EXPRESSION_FUNCTIONS: readonly string[] = Object.keys(FUNCTIONS);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (num) {
      out.push({ kind: "num", text: num[0], value: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new ExpressionError("unterminated string", text, i);
      out.push({ kind: "str", text: text.slice(i, end + 1), value: text.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end < 0) throw new ExpressionError("unterminated `device.attr`", text, i);
      const ref = text.slice(i + 1, end);
      if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_.:-]+$/.test(ref)) {
        throw new ExpressionError(`\`${ref}\` is not a device.attr reference`, text, i);
      }
      out.push({ kind: "ref", text: ref, value: ref, at: i });
      i = end + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?/.exec(text.slice(i));
    if (word) {
      const w = word[0];
      out.push({ kind: w.includes(".") ? "ref" : "name", text: w, value: w, at: i });
      i += w.length;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) throw new ExpressionError(`unexpected "${c}"`, text, i);
    out.push({ kind: "op", text: op, at: i });
    i += op.length;
  }
  out.push({ kind: "end", text: "end of expression", at: text.length });
  return out;
}

/**
 * Parses `text` into an {@linkcode Expression}; a syntax error is an {@linkcode ExpressionError}
 * (a usage error: a config mistake).
 *
 * @example
 * ```ts
 * import { parseExpression } from "./expression.ts";
 * const e = parseExpression("gauge.pressure * 1000");
 * e.refs; // ["gauge.pressure"]
 * e.evaluate([0.75]); // 750
 * parseExpression("max(det.counts, 10) > 100").type; // "boolean"
 * ```
 */
export function parseExpression(text: string): Expression {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    throw new UsageError(
      `an expression has at most ${MAX_EXPRESSION_LENGTH} characters (this one ${text.length})`,
    );
  }
  const tokens = tokenize(text);
  const refs: string[] = [];
  let pos = 0;
  let depth = 0;
  const peek = () => tokens[pos]!;
  const next = () => tokens[pos++]!;
  const isOp = (t: Token, ...ops: string[]) => t.kind === "op" && ops.includes(t.text);
  const isWord = (t: Token, ...words: string[]) => t.kind === "name" && words.includes(t.text);
  const expect = (op: string) => {
    const t = next();
    if (!isOp(t, op)) throw new ExpressionError(`expected "${op}", got ${show(t)}`, text, t.at);
  };
  const show = (t: Token) => t.kind === "end" ? "the end" : `"${t.text}"`;

  const ternary = (): Node => {
    if (++depth > 100) throw new ExpressionError("nested too deeply", text, peek().at);
    const cond = or();
    if (!isOp(peek(), "?")) {
      depth--;
      return cond;
    }
    next();
    const a = ternary();
    expect(":");
    const b = ternary();
    depth--;
    const c = cond.fn, fa = a.fn, fb = b.fn;
    return {
      fn: (v) => {
        const x = c(v);
        if (x === null) return null;
        if (typeof x !== "boolean") throw typeError("a condition", x);
        return x ? fa(v) : fb(v);
      },
      type: a.type === b.type ? a.type : "any",
    };
  };
  // `or` binds looser than `and`: one loop per level, left-associative
  const chain = (op: string, word: string, inner: () => Node, isOr: boolean): Node => {
    let left = inner();
    while (isOp(peek(), op) || isWord(peek(), word)) {
      next();
      left = logical(left, inner(), isOr);
    }
    return left;
  };
  const and = (): Node => chain("&&", "and", comparison, false);
  const or = (): Node => chain("||", "or", and, true);
  const comparison = (): Node => {
    const left = additive();
    const t = peek();
    if (!isOp(t, "<", "<=", ">", ">=", "==", "!=")) return left;
    next();
    const right = additive();
    return compare(t.text, left, right);
  };
  const additive = (): Node => {
    let left = multiplicative();
    while (isOp(peek(), "+", "-")) left = arith(next().text, left, multiplicative());
    return left;
  };
  const multiplicative = (): Node => {
    let left = unary();
    while (isOp(peek(), "*", "/", "%")) left = arith(next().text, left, unary());
    return left;
  };
  const unary = (): Node => {
    const t = peek();
    if (isOp(t, "-", "+")) {
      next();
      const inner = unary().fn;
      const neg = t.text === "-";
      return {
        fn: (v) => {
          const x = inner(v);
          if (x === null) return null;
          if (typeof x !== "number") throw typeError("a number", x);
          return neg ? -x : x;
        },
        type: "number",
      };
    }
    if (isOp(t, "!") || isWord(t, "not")) {
      next();
      const inner = unary().fn;
      return {
        fn: (v) => {
          const x = inner(v);
          if (x === null) return null;
          if (typeof x !== "boolean") throw typeError("true or false", x);
          return !x;
        },
        type: "boolean",
      };
    }
    return power();
  };
  const power = (): Node => {
    const base = primary();
    if (!isOp(peek(), "^", "**")) return base;
    next();
    return arith("^", base, unary());
  };
  const primary = (): Node => {
    const t = next();
    switch (t.kind) {
      case "num": {
        const n = t.value as number;
        return { fn: () => n, type: "number" };
      }
      case "str": {
        const s = t.value as string;
        return { fn: () => s, type: "string" };
      }
      case "ref": {
        let slot = refs.indexOf(t.text);
        if (slot < 0) slot = refs.push(t.text) - 1;
        return { fn: (v) => v[slot] ?? null, type: "any" };
      }
      case "name": {
        if (t.text === "true" || t.text === "false") {
          const b = t.text === "true";
          return { fn: () => b, type: "boolean" };
        }
        if (t.text === "pi") return { fn: () => Math.PI, type: "number" };
        const f = FUNCTIONS[t.text];
        if (!f) {
          throw new ExpressionError(
            `unknown name "${t.text}": write another attribute as device.attr, or a function: ${
              EXPRESSION_FUNCTIONS.join(" ")
            }`,
            text,
            t.at,
          );
        }
        return call(t, f);
      }
      case "op":
        if (t.text === "(") {
          const inner = ternary();
          expect(")");
          return inner;
        }
        throw new ExpressionError(`unexpected ${show(t)}`, text, t.at);
      default:
        throw new ExpressionError("the expression ends too early", text, t.at);
    }
  };
  const call = (name: Token, f: (typeof FUNCTIONS)[string]): Node => {
    expect("(");
    const args: Fn[] = [];
    if (!isOp(peek(), ")")) {
      args.push(ternary().fn);
      while (isOp(peek(), ",")) {
        next();
        args.push(ternary().fn);
      }
    }
    expect(")");
    const [lo, hi] = f.arity;
    if (args.length < lo || args.length > hi) {
      throw new ExpressionError(
        `${name.text}() takes ${lo === hi ? lo : `${lo} to ${hi}`} argument${
          hi === 1 ? "" : "s"
        }, got ${args.length}`,
        text,
        name.at,
      );
    }
    const fn = f.f;
    if (args.length === 1) {
      const a = args[0]!;
      return {
        fn: (v) => {
          const x = a(v);
          if (x === null) return null;
          if (typeof x !== "number") throw typeError("a number", x);
          return finite(fn(x));
        },
        type: "number",
      };
    }
    const xs = new Array<number>(args.length);
    return {
      fn: (v) => {
        for (let k = 0; k < args.length; k++) {
          const x = args[k]!(v);
          if (x === null) return null;
          if (typeof x !== "number") throw typeError("a number", x);
          xs[k] = x;
        }
        return finite(fn(...xs));
      },
      type: "number",
    };
  };

  const root = ternary();
  const end = peek();
  if (end.kind !== "end") {
    throw new ExpressionError(`unexpected ${show(end)} after a complete expression`, text, end.at);
  }
  const fn = root.fn;
  return {
    text,
    refs,
    type: root.type === "any" ? "number" : root.type,
    evaluate: (values) => {
      try {
        return fn(values);
      } catch (err) {
        if (err instanceof TypeMismatch) {
          // name the reference whose value had the wrong type
          const k = values.findIndex((v) => v === err.value);
          const who = k >= 0 ? `${refs[k]} is ${JSON.stringify(err.value)}` : "a value";
          throw new DeviceError(`${text}: ${who}, expected ${err.expected}`);
        }
        throw err;
      }
    },
  };
}

class TypeMismatch extends Error {
  constructor(readonly expected: string, readonly value: Value) {
    super(`expected ${expected}`);
    this.name = "TypeMismatch";
  }
}

function typeError(expected: string, value: Value): TypeMismatch {
  return new TypeMismatch(expected, value);
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function arith(op: string, left: Node, right: Node): Node {
  const a = left.fn, b = right.fn;
  const f: (x: number, y: number) => number = op === "+"
    ? (x, y) => x + y
    : op === "-"
    ? (x, y) => x - y
    : op === "*"
    ? (x, y) => x * y
    : op === "/"
    ? (x, y) => x / y
    : op === "%"
    ? (x, y) => x % y
    : (x, y) => x ** y;
  return { fn: numeric(a, b, (x, y) => finite(f(x, y))), type: "number" };
}

function compare(op: string, left: Node, right: Node): Node {
  const a = left.fn, b = right.fn;
  if (op === "==" || op === "!=") {
    const eq = op === "==";
    return {
      fn: (v) => {
        const x = a(v);
        const y = b(v);
        if (x === null || y === null) return null;
        return (x === y) === eq;
      },
      type: "boolean",
    };
  }
  const f: (x: number, y: number) => boolean = op === "<"
    ? (x, y) => x < y
    : op === "<="
    ? (x, y) => x <= y
    : op === ">"
    ? (x, y) => x > y
    : (x, y) => x >= y;
  return { fn: numeric(a, b, f), type: "boolean" };
}

/** `f` of two numbers: null when either side is null, a type error when either is not a number. */
function numeric(a: Fn, b: Fn, f: (x: number, y: number) => Value): Fn {
  return (v) => {
    const x = a(v);
    const y = b(v);
    if (x === null || y === null) return null;
    if (typeof x !== "number") throw typeError("a number", x);
    if (typeof y !== "number") throw typeError("a number", y);
    return f(x, y);
  };
}

function logical(left: Node, right: Node, isOr: boolean): Node {
  const a = left.fn, b = right.fn;
  const bool = (x: Value) => {
    if (typeof x !== "boolean") throw typeError("true or false", x);
    return x;
  };
  return {
    fn: (v) => {
      const x = a(v);
      if (x !== null && bool(x) === isOr) return isOr;
      const y = b(v);
      if (x === null || y === null) return y !== null && bool(y) === isOr ? isOr : null;
      return bool(y);
    },
    type: "boolean",
  };
}
