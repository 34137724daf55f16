/**
 * A tiny XML reader for ToolWeb bodies: elements, attributes, text, entities, comments and the
 * XML declaration — no DTDs, namespaces or CDATA tricks beyond what a gauge sends. Written by
 * hand because the project takes no npm XML dependency; pure, no I/O.
 *
 * @module
 */

/** One parsed XML element. */
export interface XmlElement {
  /** Tag name as written. */
  name: string;
  /** Attributes, entity-decoded. */
  attrs: Record<string, string>;
  /** Child elements and text runs, in document order. */
  children: (XmlElement | string)[];
}

/** A body that is not well-formed XML; `offset` is where reading stopped. */
export class XmlSyntaxError extends Error {
  /** Creates a syntax error at character `offset`. */
  constructor(message: string, readonly offset: number) {
    super(`${message} at character ${offset}`);
    this.name = "XmlSyntaxError";
  }
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Replaces the five predefined entities and numeric character references. */
export function decodeEntities(text: string, offset = 0): string {
  if (!text.includes("&")) return text;
  return text.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(";")) throw new XmlSyntaxError(`unterminated entity "${whole}"`, offset);
    if (ref in ENTITIES) return ENTITIES[ref]!;
    const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref);
    if (m) {
      const code = m[1] !== undefined ? parseInt(m[1], 16) : Number(m[2]);
      if (code > 0 && code <= 0x10ffff) return String.fromCodePoint(code);
    }
    throw new XmlSyntaxError(`unknown entity "&${ref};"`, offset);
  });
}

const NEEDS_ESCAPE = /[&<>"']/;

/** Escapes text for an element body or a double-quoted attribute. */
export function escapeXml(text: string): string {
  // Most texts (every number) need nothing: no new string for them.
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&apos;",
  );
}

/**
 * Parses a document and returns its root element; throws {@linkcode XmlSyntaxError}.
 *
 * @example
 * ```ts
 * import { parseXml } from "./xml.ts";
 * parseXml('<PollResponse><V Name="EVID_100">3.7</V></PollResponse>').name; // "PollResponse"
 * ```
 */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const n = text.length;

  const skipSpace = () => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
    }
  };
  // Prolog and epilog may hold whitespace, comments and processing instructions only.
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (text.startsWith("<?", i)) {
        const end = text.indexOf("?>", i + 2);
        if (end < 0) throw new XmlSyntaxError("unterminated <?…?>", i);
        i = end + 2;
      } else if (text.startsWith("<!--", i)) {
        const end = text.indexOf("-->", i + 4);
        if (end < 0) throw new XmlSyntaxError("unterminated comment", i);
        i = end + 3;
      } else if (text.startsWith("<!DOCTYPE", i)) {
        const end = text.indexOf(">", i);
        if (end < 0) throw new XmlSyntaxError("unterminated <!DOCTYPE", i);
        i = end + 1;
      } else return;
    }
  };
  const readName = (what: string): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) throw new XmlSyntaxError(`expected ${what}`, i);
    i += m[0].length;
    return m[0];
  };

  const readElement = (depth: number): XmlElement => {
    if (depth > 64) throw new XmlSyntaxError("elements nested too deeply", i);
    if (text[i] !== "<") throw new XmlSyntaxError("expected '<'", i);
    i++;
    const name = readName("a tag name");
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = i;
      skipSpace();
      if (text.startsWith("/>", i)) {
        i += 2;
        return { name, attrs, children: [] };
      }
      if (text[i] === ">") {
        i++;
        break;
      }
      if (i === before) throw new XmlSyntaxError(`expected '>' or an attribute in <${name}>`, i);
      const key = readName("an attribute name");
      skipSpace();
      if (text[i] !== "=") throw new XmlSyntaxError(`expected '=' after ${key}`, i);
      i++;
      skipSpace();
      const quote = text[i];
      if (quote !== '"' && quote !== "'") {
        throw new XmlSyntaxError(`expected a quoted value for ${key}`, i);
      }
      const end = text.indexOf(quote, i + 1);
      if (end < 0) throw new XmlSyntaxError(`unterminated value of ${key}`, i);
      const raw = text.slice(i + 1, end);
      if (raw.includes("<")) throw new XmlSyntaxError(`'<' in the value of ${key}`, i);
      // Own keys only: "constructor" or "__proto__" are attribute names like any other.
      if (Object.hasOwn(attrs, key)) throw new XmlSyntaxError(`attribute ${key} given twice`, i);
      Object.defineProperty(attrs, key, {
        value: decodeEntities(raw, i),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      i = end + 1;
    }
    const children: (XmlElement | string)[] = [];
    for (;;) {
      if (i >= n) throw new XmlSyntaxError(`<${name}> is never closed`, i);
      if (text.startsWith("</", i)) {
        i += 2;
        const close = readName("a closing tag name");
        if (close !== name) throw new XmlSyntaxError(`</${close}> closes <${name}>`, i);
        skipSpace();
        if (text[i] !== ">") throw new XmlSyntaxError(`expected '>' after </${close}`, i);
        i++;
        return { name, attrs, children };
      }
      if (text.startsWith("<!--", i)) {
        const end = text.indexOf("-->", i + 4);
        if (end < 0) throw new XmlSyntaxError("unterminated comment", i);
        i = end + 3;
      } else if (text.startsWith("<![CDATA[", i)) {
        const end = text.indexOf("]]>", i + 9);
        if (end < 0) throw new XmlSyntaxError("unterminated CDATA section", i);
        children.push(text.slice(i + 9, end));
        i = end + 3;
      } else if (text[i] === "<") {
        children.push(readElement(depth + 1));
      } else {
        const end = text.indexOf("<", i);
        const stop = end < 0 ? n : end;
        children.push(decodeEntities(text.slice(i, stop), i));
        i = stop;
      }
    }
  };

  skipMisc();
  if (i >= n) throw new XmlSyntaxError("no root element", i);
  const root = readElement(0);
  skipMisc();
  if (i < n) throw new XmlSyntaxError("text after the root element", i);
  return root;
}

/** The concatenated text of an element's direct text children. */
export function textOf(el: XmlElement): string {
  return el.children.filter((c): c is string => typeof c === "string").join("");
}
