// The inbox renders agent text: markdown must never produce a script-capable
// URL or raw HTML, and no message (up to 100 000 characters) may hang or
// crash the page: deep nesting and unclosed markers render in linear time.
import { describe, expect, test } from "bun:test";
import { Markdown, plain, safeUrl } from "../web/markdown.js";

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
      const t0 = performance.now();
      const els = elements(Markdown({ text }));
      expect(performance.now() - t0).toBeLessThan(500);
      expect(els.filter((e) => e.type === "blockquote" || e.type === "ul").length).toBeLessThanOrEqual(13);
    }
  });

  test("unclosed markers and link openers render in linear time", () => {
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
      const t0 = performance.now();
      elements(Markdown({ text }));
      plain(text);
      expect({ what, slow: performance.now() - t0 > 600 }).toEqual({ what, slow: false });
    }
  });
});
