import assert from "node:assert/strict";
import { decodeEntities, escapeXml, parseXml, textOf, XmlSyntaxError } from "./xml.ts";

Deno.test("parses elements, attributes, self-closing tags, text and CDATA", () => {
  const doc = parseXml(
    `<?xml version="1.0"?><!DOCTYPE x><a k="1" j='two'><b/><c>hi<![CDATA[<raw>]]></c> </a><!-- end -->`,
  );
  assert.equal(doc.name, "a");
  assert.deepEqual(doc.attrs, { k: "1", j: "two" });
  const [b, c] = doc.children.filter((x) => typeof x !== "string");
  assert.deepEqual(b, { name: "b", attrs: {}, children: [] });
  assert.equal(c && typeof c !== "string" ? textOf(c) : "", "hi<raw>");
});

Deno.test("entities: predefined and numeric; escape is the inverse", () => {
  assert.equal(decodeEntities("&lt;&gt;&amp;&quot;&apos;&#65;&#x42;"), `<>&"'AB`);
  const s = `a<b>&"c'`;
  assert.equal(decodeEntities(escapeXml(s)), s);
  assert.throws(() => decodeEntities("&nbsp;"), XmlSyntaxError);
  assert.throws(() => decodeEntities("a & b"), XmlSyntaxError);
});

Deno.test("syntax errors say what and where", () => {
  const bad: [string, RegExp][] = [
    ["", /no root element/],
    ["<a>", /never closed/],
    ["<a></b>", /<\/b> closes <a>/],
    ["<a b=1/>", /quoted value/],
    ['<a b="1" b="2"/>', /given twice/],
    ["<a/>x", /text after the root/],
    ["<!-- x", /unterminated comment/],
    ["<a><![CDATA[x</a>", /unterminated CDATA/],
    ["<1a/>", /tag name/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseXml(text), (err: unknown) => {
      assert.ok(err instanceof XmlSyntaxError);
      assert.match(err.message, re);
      assert.match(err.message, /at character \d+$/);
      return true;
    }, text);
  }
});

Deno.test("deep nesting is refused rather than overflowing the stack", () => {
  assert.throws(() => parseXml("<a>".repeat(1000)), /nested too deeply/);
});

Deno.test("attribute names that every object has are attributes, not duplicates", () => {
  const el = parseXml('<V constructor="a" toString="b" __proto__="c"/>');
  assert.deepEqual(Object.entries(el.attrs), [["constructor", "a"], ["toString", "b"], [
    "__proto__",
    "c",
  ]]);
  assert.throws(() => parseXml('<V a="1" a="2"/>'), /given twice/);
});
