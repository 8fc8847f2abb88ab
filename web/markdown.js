// A small, safe markdown renderer. It never parses HTML: it builds Preact
// elements itself, so any HTML in the source shows up as text. Supported:
// headings, paragraphs (single newlines become line breaks), bold, italic,
// strike-through, inline code, fenced code blocks, lists (nested by indent),
// block quotes, tables, rules and links (http and https only, rel=noopener).
// Invisible formatting characters (bidi overrides…) are dropped first, and a
// link whose text names another place than its target shows the real target.
import { h } from "preact";
import { clean } from "./text.js";

/** @param {{ text: string | null | undefined, class?: string }} props */
export function Markdown({ text, class: cls }) {
  return h("div", { class: cls ? `md ${cls}` : "md" }, blocks(clean(text)));
}

/** Only absolute http(s) URLs are ever used as link targets. */
export function safeUrl(url) {
  if (typeof url !== "string" || !/^https?:\/\//i.test(url.trim())) return null;
  try {
    const u = new URL(url.trim());
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const cells = (line) =>
  line
    .trim()
    .replace(/^\|/, "")
    .replace(/(?<!\\)\|$/, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, "|"));
const isTableStart = (lines, i) => lines[i].includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes("-");

// Agent text is untrusted: nesting is capped (a deep quote would overflow the
// stack) and every span the inline pattern scans for is bounded, so no message
// can make rendering quadratic (the whole text, 100 000 characters, per span).
const MAX_DEPTH = 12;

function blocks(src, depth = 0) {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i++;
    } else if ((m = line.match(FENCE))) {
      const fence = m[1];
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i++; // closing fence (or end of text)
      out.push(h("pre", { key: out.length }, h("code", null, body.join("\n"))));
    } else if (isTableStart(lines, i)) {
      const head = cells(line);
      const align = cells(lines[i + 1]).map((c) => (c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : undefined));
      i += 2;
      const rows = [];
      while (i < lines.length && lines[i].trim() && lines[i].includes("|")) rows.push(cells(lines[i++]));
      const cell = (tag, text, k) => h(tag, { key: k, style: align[k] ? `text-align:${align[k]}` : undefined }, inline(text));
      out.push(
        h(
          "div",
          { key: out.length, class: "table-wrap" },
          h("table", null, [
            h("thead", { key: "h" }, h("tr", null, head.map((c, k) => cell("th", c, k)))),
            h("tbody", { key: "b" }, rows.map((r, j) => h("tr", { key: j }, head.map((_, k) => cell("td", r[k] ?? "", k))))),
          ]),
        ),
      );
    } else if ((m = line.match(HEADING))) {
      // Inside a message, # is a small heading: h3 … h6.
      out.push(h(`h${Math.min(6, m[1].length + 2)}`, { key: out.length }, inline(m[2])));
      i++;
    } else if (RULE.test(line)) {
      out.push(h("hr", { key: out.length }));
      i++;
    } else if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const body = [];
      while (i < lines.length && lines[i].trim() && QUOTE.test(lines[i])) body.push(lines[i++].replace(QUOTE, ""));
      out.push(h("blockquote", { key: out.length }, blocks(body.join("\n"), depth + 1)));
    } else if ((m = line.match(ITEM)) && depth < MAX_DEPTH) {
      const ordered = /\d/.test(m[2]);
      const indent = m[1].length;
      const items = [];
      while (i < lines.length) {
        const im = lines[i].match(ITEM);
        if (!im || im[1].length !== indent || /\d/.test(im[2]) !== ordered) break;
        const body = [im[3]];
        i++;
        // Continuation: indented lines (nested lists, wrapped text) and blank lines inside.
        while (i < lines.length && (lines[i].match(/^ */)[0].length > indent && lines[i].trim() !== "")) {
          body.push(lines[i].slice(Math.min(lines[i].match(/^ */)[0].length, indent + 2)));
          i++;
        }
        items.push(body);
      }
      const start = ordered ? parseInt(m[2], 10) : undefined;
      out.push(
        h(
          ordered ? "ol" : "ul",
          { key: out.length, start: start !== 1 ? start : undefined },
          items.map((body, k) => h("li", { key: k }, body.length === 1 ? inline(body[0]) : blocks(body.join("\n"), depth + 1))),
        ),
      );
    } else {
      const para = [];
      while (
        i < lines.length &&
        lines[i].trim() &&
        !FENCE.test(lines[i]) &&
        !HEADING.test(lines[i]) &&
        !(QUOTE.test(lines[i]) && depth < MAX_DEPTH) &&
        !(para.length && ITEM.test(lines[i]) && depth < MAX_DEPTH) &&
        !isTableStart(lines, i) &&
        !RULE.test(lines[i])
      )
        para.push(lines[i++]);
      if (!para.length) para.push(lines[i++]); // a line no rule took
      out.push(h("p", { key: out.length }, inline(para.join("\n"))));
    }
  }
  return out;
}

// One pass over the text: the earliest match wins, its inner text recurses.
const INLINE =
  /\\([\\`*_{}\[\]()#+\-.!~>|])|(`+)([^`]|[^`][\s\S]{0,2000}?[^`])\2(?!`)|\*\*(?=\S)([\s\S]{0,1000}?\S)\*\*|(?<![\w_])__(?=\S)([\s\S]{0,1000}?\S)__(?![\w_])|\*(?=[^\s*])([\s\S]{0,1000}?[^\s*])\*|(?<![\w_])_(?=[^\s_])([\s\S]{0,1000}?[^\s_])_(?![\w_])|~~(?=\S)([\s\S]{0,1000}?\S)~~|\[([^\]\n]{0,1000})\]\(\s{0,10}<?([^)\s>]{0,2048})>?(?:\s{1,10}["'][^"'\n]{0,1000}["'])?\s{0,10}\)|(https?:\/\/[^\s<>"']{0,2048}[^\s<>"'.,;:!?)\]}*_~])|(\n)/g;

// In a link's text, a bare URL is text: an <a> inside an <a> is not HTML.
function inline(text, inLink = false) {
  const out = [];
  let last = 0;
  let m;
  const re = new RegExp(INLINE); // own lastIndex: inline() recurses
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const k = out.length;
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(h("code", { key: k }, m[3].replace(/^ (.*) $/, "$1")));
    else if (m[4] !== undefined || m[5] !== undefined) out.push(h("strong", { key: k }, inline(m[4] ?? m[5], inLink)));
    else if (m[6] !== undefined || m[7] !== undefined) out.push(h("em", { key: k }, inline(m[6] ?? m[7], inLink)));
    else if (m[8] !== undefined) out.push(h("del", { key: k }, inline(m[8], inLink)));
    else if (m[9] !== undefined && !inLink) {
      const href = safeUrl(m[10]);
      const label = m[9] || m[10];
      if (!href) out.push(m[0]);
      // "[https://good.example](https://evil.example)": the words stay as text, the link shows where it goes.
      else if (namesOtherPlace(label, href)) out.push(`${label} (`, link(k, href, href), ")");
      else out.push(link(k, href, inline(label, true)));
    } else if (m[11] !== undefined) {
      const href = !inLink && safeUrl(m[11]);
      out.push(href ? link(k, href, m[11]) : m[11]);
    } else if (m[12] !== undefined) out.push(h("br", { key: k }));
    last = re.lastIndex;
    if (m[0].length === 0) re.lastIndex++;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

// Words in a link's text that name a place: a URL with a scheme, or a host name (good.example, www.x.org).
const PLACE = /[a-z][\w+.-]*:\/\/[^\s<>"'()[\]]+|(?:[\p{L}\p{N}-]+\.)+\p{L}{2,}(?![\p{L}\p{N}-])/giu;
const hostOf = (s) => {
  try {
    return new URL(/^[a-z][\w+.-]*:\/\//i.test(s) ? s : `https://${s}`).hostname.replace(/^www\./, "");
  } catch {
    return null; // not a URL the browser could go to: not the target either
  }
};

/** The link's text names a place (URL or host) other than the host it goes to. */
export function namesOtherPlace(label, href) {
  const target = hostOf(href);
  return [...label.matchAll(PLACE)].some((m) => hostOf(m[0].replace(/[*_~`]+$/, "")) !== target);
}

const link = (key, href, children) => h("a", { key, href, target: "_blank", rel: "noopener noreferrer nofollow" }, children);

/** Plain text preview of markdown (for lists, titles and notifications). */
export function plain(text, max = 140) {
  const s = clean(text)
    .replace(/```[\s\S]*?(```|$)/g, " [code] ")
    .replace(/[*_`~#>]+/g, "")
    .replace(/\[([^\]]{0,1000})\]\([^)]{0,2048}\)/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}
