// The inbox renders agent text: markdown must never produce a script-capable
// URL or raw HTML, and no message (up to 100 000 characters) may hang or
// crash the page: deep nesting and unclosed markers render, losing nothing.
// How fast they render is measured in bench/adversarial.ts, not asserted here
// (a busy machine would make any bound flaky).
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { Markdown, plain, safeUrl } from "../web/markdown.js";

// This file renders 100,000-character texts: a busy machine needs more than bun's default 5 s per test (a hang guard, not a time check).
setDefaultTimeout(60_000);

/** The text the tree shows: every string in it, in order (iteratively: the tree may be deep). */
function textOf(root: unknown) {
  let out = "";
  const stack = [root];
  while (stack.length) {
    const v = stack.pop() as any;
    if (v == null || v === false || v === true) continue;
    if (typeof v === "string" || typeof v === "number") out += v;
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else if (typeof v === "object") stack.push(v.props?.children);
  }
  return out;
}
const count = (s: string, ch: string) => s.split(ch).length - 1;

/** Every element of the tree (iteratively: the tree may be deep). */
function elements(root: unknown) {
  const out: { type: string; props: Record<string, any> }[] = [];
  const stack = [root];
  while (stack.length) {
    const v = stack.pop() as any;
    if (v == null || typeof v !== "object") continue;
    if (Array.isArray(v)) stack.push(...v);
    else {
      out.push(v);
      stack.push(v.props?.children);
    }
  }
  return out;
}

const LIMIT = 100_000; // the longest message text an agent may send

describe("markdown from agents", () => {
  test("links and URLs: only http(s) ever becomes an href; HTML stays text", () => {
    const text = [
      "[x](javascript:alert(1))",
      "[x](JaVaScRiPt:alert(1))",
      "[x]( javascript:alert(1))",
      "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
      "[x](vbscript:msgbox)",
      "[x](//evil.example/a)",
      "[x](/app/agents)",
      "<img src=x onerror=alert(1)> <script>alert(1)</script>",
      "javascript:alert(1) data:text/html,<b>x</b>",
      "[ok](https://example.com/a?b=c) http://example.org/x",
    ].join("\n\n");
    const els = elements(Markdown({ text }));
    const hrefs = els.filter((e) => e.props?.href !== undefined).map((e) => e.props.href).sort();
    expect(hrefs).toEqual(["http://example.org/x", "https://example.com/a?b=c"]);
    expect(els.map((e) => e.type).filter((t) => !["div", "p", "a", "br"].includes(t))).toEqual([]);
    for (const e of els) for (const k of Object.keys(e.props ?? {})) expect(k).not.toMatch(/^on|^dangerously/i);
    for (const bad of ["javascript:alert(1)", " javascript:alert(1)", "data:text/html,x", "vbscript:x", "//evil.example", "file:///etc/passwd", "https:/\\evil"]) expect(safeUrl(bad)).toBeNull();
  });

  test("a deeply nested quote or list renders (capped nesting) instead of overflowing the stack", () => {
    for (const text of ["> ".repeat(LIMIT / 2) + "deep", Array.from({ length: 400 }, (_, i) => " ".repeat(i) + "- item").join("\n")]) {
      const tree = Markdown({ text });
      const els = elements(tree);
      expect(els.filter((e) => e.type === "blockquote" || e.type === "ul").length).toBeLessThanOrEqual(13);
      expect(textOf(tree)).toContain(text.includes("deep") ? "deep" : "item");
    }
  });

  test("unclosed markers and link openers render: every letter is still shown", () => {
    const cases = {
      links: "[a](".repeat(LIMIT / 4),
      brackets: "[".repeat(LIMIT - 3) + "](x",
      strong: "**a ".repeat(LIMIT / 4),
      em: "*a ".repeat(LIMIT / 3),
      under: "__a ".repeat(LIMIT / 4),
      strike: "~~a ".repeat(LIMIT / 4),
      code: "``a`".repeat(LIMIT / 4),
    };
    for (const [what, text] of Object.entries(cases)) {
      const shown = textOf(Markdown({ text }));
      const letters = count(text, "a") + count(text, "x");
      expect({ what, letters: count(shown, "a") + count(shown, "x") }).toEqual({ what, letters });
      expect({ what, plain: plain(text).length > 0 }).toEqual({ what, plain: true });
    }
  });
});
