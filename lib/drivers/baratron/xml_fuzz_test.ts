import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzTest, onlyThrows } from "../../../tests/fuzz_runs.ts";
import { decodeEntities, escapeXml, parseXml, type XmlElement, XmlSyntaxError } from "./xml.ts";

/** Pieces of XML syntax, so random documents are often nearly well-formed. */
const token = fc.oneof(
  fc.constantFrom("<", ">", "/>", "</", "<?", "?>", "<!--", "-->", "<![CDATA[", "]]>", "<!DOCTYPE"),
  fc.constantFrom(
    "&",
    ";",
    "&amp;",
    "&#x41;",
    "&#0;",
    "&#1114112;",
    "&bogus;",
    "&#xD800;",
    "=",
    '"',
  ),
  fc.constantFrom("'", " ", "\n", "V", "Name", "EVID_100", "PollResponse", "a", "constructor"),
  fc.string({ maxLength: 4 }),
);
const xmlSoup = fc.array(token, { maxLength: 40 }).map((t) => t.join(""));

fuzzTest(
  "parseXml: any text is an element or an XmlSyntaxError",
  fc.oneof(fc.string(), xmlSoup, fc.nat(200).map((n) => "<a>".repeat(n) + "</a>".repeat(n))),
  (text) => {
    const root = onlyThrows([XmlSyntaxError], () => parseXml(text));
    if (root !== undefined) assert.equal(typeof root.name, "string");
  },
);

const xmlName = fc.oneof(
  fc.stringMatching(/^[A-Za-z_:][-A-Za-z0-9_:.]{0,6}$/),
  // Names that are also properties of every object must not be mistaken for duplicates.
  fc.constantFrom("constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"),
);
const text = fc.string({ maxLength: 12, unit: "binary" });

/** A random element tree, up to a few levels deep. */
const element: fc.Arbitrary<XmlElement> = fc.letrec<{ el: XmlElement }>((tie) => ({
  el: fc.record({
    name: xmlName,
    attrs: fc.dictionary(xmlName, text, { maxKeys: 3 }),
    children: fc.array(fc.oneof({ depthSize: "small", withCrossShrink: true }, text, tie("el")), {
      maxLength: 4,
    }),
  }),
})).el;

function serialize(el: XmlElement): string {
  const attrs = Object.entries(el.attrs).map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join("");
  const body = el.children.map((c) => typeof c === "string" ? escapeXml(c) : serialize(c)).join(
    "",
  );
  return `<${el.name}${attrs}>${body}</${el.name}>`;
}

/** Adjacent text runs are one run once written; empty runs vanish. */
function normalize(el: XmlElement): unknown {
  const children: unknown[] = [];
  for (const c of el.children) {
    if (typeof c !== "string") children.push(normalize(c));
    else if (c === "") continue;
    else if (typeof children.at(-1) === "string") children[children.length - 1] += c;
    else children.push(c);
  }
  return { name: el.name, attrs: Object.entries(el.attrs).sort(), children };
}

fuzzTest("parseXml: a serialized element tree parses back to itself", element, (el) => {
  const doc = serialize(el);
  assert.deepEqual(normalize(parseXml(doc)), normalize(el), doc);
  const declared = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- gauge -->\n${doc}\n`;
  assert.deepEqual(normalize(parseXml(declared)), normalize(el));
});

fuzzTest("decodeEntities undoes escapeXml", fc.string({ unit: "binary" }), (s) => {
  assert.equal(decodeEntities(escapeXml(s)), s);
});
