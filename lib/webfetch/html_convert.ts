import { parseHTML, TurndownService } from "../deps/html.ts";

/**
 * Elements that are never the content a model asked for: code, styling,
 * embedded documents, navigation and form controls.
 */
const NOISE = [
  "script",
  "style",
  "noscript",
  "template",
  "iframe",
  "object",
  "embed",
  "svg",
  "canvas",
  "link",
  "meta",
  "nav",
  "[role=navigation]",
  "[role=menubar]",
  "button",
  "input",
  "select",
  "textarea",
].join(",");

/** Text layout: paragraph blocks stand apart by a blank line, line blocks start a new line. */
const PARAGRAPHS = new Set([
  "address",
  "article",
  "aside",
  "blockquote",
  "details",
  "dialog",
  "div",
  "dl",
  "fieldset",
  "figcaption",
  "figure",
  "footer",
  "form",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "header",
  "hr",
  "main",
  "ol",
  "p",
  "pre",
  "section",
  "table",
  "ul",
]);
const LINES = new Set(["li", "dt", "dd", "tr", "summary", "caption"]);
const CELLS = new Set(["td", "th"]);

// DOM node shapes we read (linkedom implements the standard ones).
interface DomNode {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
}
interface DomElement extends DomNode {
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  remove(): void;
}
interface DomDocument {
  body: DomElement | null;
  documentElement: DomElement;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

/** A cleaned body: noise removed, links and images made absolute against `base`. */
function cleanBody(html: string, base: URL): DomElement {
  // linkedom builds no document around a bare fragment: give it one.
  const whole = /<(html|body)[\s>]/i.test(html)
    ? html
    : `<!doctype html><html><body>${html}</body></html>`;
  const { document } = parseHTML(whole) as unknown as { document: DomDocument };
  for (const el of Array.from(document.querySelectorAll(NOISE))) el.remove();
  for (const [selector, attr] of [["a[href]", "href"], ["img[src]", "src"]]) {
    for (const el of Array.from(document.querySelectorAll(selector))) {
      const value = el.getAttribute(attr)!;
      try {
        el.setAttribute(attr, new URL(value, base).href);
      } catch { /* leave a URL we cannot parse as written */ }
    }
  }
  return document.body ?? document.documentElement;
}

export function htmlToMarkdown(html: string, base: URL): string {
  const service = new TurndownService({
    headingStyle: "atx",
    codeBlockStyle: "fenced",
    bulletListMarker: "-",
    emDelimiter: "_",
  });
  // javascript: links are noise at best; keep their text only.
  service.addRule("scriptLinks", {
    filter: (node) =>
      node.nodeName === "A" && /^\s*javascript:/i.test(node.getAttribute("href") ?? ""),
    replacement: (content) => content,
  });
  // <pre> without <code> would come out as indented text: fence it like code.
  service.addRule("bareFence", {
    filter: (node) => node.nodeName === "PRE" && node.firstElementChild?.nodeName !== "CODE",
    replacement: (_content, node) =>
      "\n\n```\n" + (node.textContent ?? "").replace(/\n$/, "") + "\n```\n\n",
  });
  service.addRule("table", { filter: "table", replacement: (_c, node) => tableToMarkdown(node) });
  const body = cleanBody(html, base);
  const md = service.turndown(body as unknown as Parameters<typeof service.turndown>[0]);
  return tidy(md);
}

/** A GitHub-style pipe table from the table's rows; cell text only (nested markup flattened). */
function tableToMarkdown(table: { querySelectorAll(s: string): ArrayLike<unknown> }): string {
  const rows = (Array.from(table.querySelectorAll("tr")) as DomNode[]).map((tr) =>
    Array.from(tr.childNodes)
      .filter((c) => c.nodeName === "TD" || c.nodeName === "TH")
      .map((c) => (c.textContent ?? "").replace(/\s+/g, " ").trim().replace(/\|/g, "\\|"))
  ).filter((r) => r.length > 0);
  if (rows.length === 0) return "";
  const width = Math.max(...rows.map((r) => r.length));
  const line = (r: string[]) =>
    "| " + Array.from({ length: width }, (_, i) => r[i] ?? "").join(" | ") + " |";
  const [head, ...rest] = rows;
  return "\n\n" + [line(head), line(new Array(width).fill("---")), ...rest.map(line)].join("\n") +
    "\n\n";
}

/** Plain text: block elements on their own lines, whitespace collapsed, <pre> kept. */
export function htmlToText(html: string, base: URL): string {
  const out: string[] = [];
  const walk = (node: DomNode, pre: boolean) => {
    if (node.nodeType === 3) {
      const t = node.textContent ?? "";
      out.push(pre ? t : t.replace(/\s+/g, " "));
      return;
    }
    if (node.nodeType !== 1) return;
    const name = node.nodeName.toLowerCase();
    if (name === "br") {
      out.push("\n");
      return;
    }
    if (PARAGRAPHS.has(name)) out.push("\n\n");
    else if (LINES.has(name)) out.push("\n");
    else if (CELLS.has(name)) out.push("\t");
    const kids = node.childNodes;
    for (let i = 0; i < kids.length; i++) walk(kids[i], pre || name === "pre");
    if (PARAGRAPHS.has(name)) out.push("\n\n");
  };
  walk(cleanBody(html, base), false);
  return tidy(
    out.join("").split("\n").map((line) => line.replace(/^[ \t]+|[ \t]+$/g, "")).join("\n"),
  );
}

function tidy(text: string): string {
  return text.replace(/\n{3,}/g, "\n\n").trim();
}

/** HTML by content type, or, without one, by the first bytes (the way browsers sniff). */
export function isHtml(contentType: string, body: Uint8Array): boolean {
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (type === "text/html" || type === "application/xhtml+xml") return true;
  if (type !== "") return false;
  const head = new TextDecoder().decode(body.subarray(0, 512)).trimStart().toLowerCase();
  return head.startsWith("<!doctype html") || head.startsWith("<html");
}

/**
 * Decodes a body as text: the content type's charset, else (for HTML) a
 * <meta charset>, else UTF-8. Unknown charsets fall back to UTF-8;
 * undecodable bytes become U+FFFD rather than failing the fetch.
 */
export function decodeBody(body: Uint8Array, contentType: string, html: boolean): string {
  let charset = /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType)?.[1];
  if (!charset && html) {
    const head = new TextDecoder("latin1").decode(body.subarray(0, 2048));
    charset = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
  }
  try {
    return new TextDecoder(charset ?? "utf-8").decode(body);
  } catch {
    return new TextDecoder("utf-8").decode(body);
  }
}
