import assert from "node:assert/strict";
import fc from "fast-check";
import { ExpressionError, parseExpression } from "./expression.ts";
import { DeviceError, UsageError } from "./errors.ts";

const calc = (text: string, values: (number | string | boolean | null)[] = []) =>
  parseExpression(text).evaluate(values);

Deno.test("arithmetic follows the usual precedence; ^ and ** are right-associative powers", () => {
  assert.equal(calc("1 + 2 * 3"), 7);
  assert.equal(calc("(1 + 2) * 3"), 9);
  assert.equal(calc("2 ^ 3 ^ 2"), 512);
  assert.equal(calc("2 ** 10"), 1024);
  assert.equal(calc("-2 ^ 2"), -4);
  assert.equal(calc("7 % 4 - 10 / 4"), 0.5);
  assert.equal(calc("1.5e3 + .5"), 1500.5);
});

Deno.test("functions, comparisons, logic and the conditional", () => {
  assert.equal(calc("abs(-3) + sqrt(16) + log10(1000) + ln(1) + exp(0)"), 11);
  assert.equal(calc("min(3, 1, 2) + max(3, 1, 2)"), 4);
  assert.equal(calc("round(2.5) + floor(2.7) + ceil(2.1)"), 8);
  assert.equal(calc("1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 == 1 and 1 != 2"), true);
  assert.equal(calc("not (1 > 2) && !false || false"), true);
  assert.equal(calc("a.b > 5 ? 10 : 20", [7]), 10);
  assert.equal(calc('m.status == "moving"', ["moving"]), true);
  assert.equal(parseExpression("a.b > 1").type, "boolean");
  assert.equal(parseExpression("a.b > 1 ? true : false").type, "boolean");
  assert.equal(parseExpression("a.b * 2").type, "number");
  assert.ok(Math.abs((calc("pi") as number) - Math.PI) < 1e-15);
});

Deno.test("references are slots in order of first use; a device with - is written in backticks", () => {
  const e = parseExpression("gauge.pressure * 2 + `gauge-2.pressure` - gauge.pressure");
  assert.deepEqual(e.refs, ["gauge.pressure", "gauge-2.pressure"]);
  assert.equal(e.evaluate([3, 4]), 7);
});

Deno.test("a gap stays a gap; non-finite results are gaps; wrong types name the reference", () => {
  assert.equal(calc("a.b * 2", [null]), null);
  assert.equal(calc("a.b > 1", [null]), null);
  assert.equal(calc("1 / a.b", [0]), null);
  assert.equal(calc("sqrt(a.b)", [-1]), null);
  // logic: a known answer does not need the missing side
  assert.equal(calc("a.b or true", [null]), true);
  assert.equal(calc("a.b and false", [null]), false);
  assert.equal(calc("a.b and true", [null]), null);
  assert.throws(() => calc("a.b * 2", ["text"]), (e) => {
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, /a\.b \* 2: a\.b is "text", expected a number/);
    return true;
  });
  assert.throws(() => calc("not a.b", [3]), /a\.b is 3, expected true or false/);
});

Deno.test("syntax errors say where, with a caret, and are usage errors", () => {
  const cases: [string, RegExp][] = [
    ["1 +", /ends too early \(character 4\)/],
    ["foo(1)", /unknown name "foo": write another attribute as device\.attr/],
    ["sqrt(1, 2)", /sqrt\(\) takes 1 argument, got 2/],
    ["(1 + 2", /expected "\)", got the end/],
    ["1 2", /unexpected "2" after a complete expression/],
    ["a.b $ 2", /unexpected "\$" \(character 5\)/],
    ["'open", /unterminated string/],
    ["`x`", /`x` is not a device\.attr reference/],
    ["x", /unknown name "x"/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseExpression(text), (e) => {
      assert.ok(e instanceof ExpressionError && e instanceof UsageError, String(e));
      assert.match((e as Error).message, re);
      return true;
    }, text);
  }
  assert.match(
    (() => {
      try {
        parseExpression("a.b + * 2");
      } catch (e) {
        return (e as Error).message;
      }
    })()!,
    /\n {2}a\.b \+ \* 2\n {8}\^$/,
  );
  assert.throws(() => parseExpression("1+".repeat(600) + "1"), /at most 1000 characters/);
  assert.throws(
    () => parseExpression("(".repeat(200) + "1" + ")".repeat(200)),
    /nested too deeply/,
  );
});

Deno.test("fuzz: any text either parses or is a usage error; never another exception", () => {
  const alphabet = fc.constantFrom(
    ..."0123456789.+-*/%^()<>=!&|?:, abcxyz_\"'`e".split(""),
    "a.b",
    "sqrt(",
    "max(",
    " and ",
    " or ",
    "not ",
  );
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 40 }), (parts) => {
      const text = parts.join("");
      try {
        const e = parseExpression(text);
        try {
          e.evaluate(e.refs.map((_, i) => i + 0.5));
        } catch (err) {
          // a type mismatch (a number where a boolean belongs) is a device error, by design
          if (!(err instanceof DeviceError)) throw err;
        }
      } catch (err) {
        if (!(err instanceof UsageError) && !(err instanceof DeviceError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
});
