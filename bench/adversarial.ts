// bun bench/adversarial.ts
//
// How long the worst inputs an agent can send take to handle: the markdown
// renderer on 100,000-character texts built to make a regex backtrack (deep
// nesting, unclosed markers, link openers, links whose text is a URL), and
// the claude-hook glob matcher on many-star patterns against a 50,000-character
// command. These were wall-clock bounds inside the tests, which a busy machine
// broke; the tests now check the outcome, and this prints the time.
// Targets: each render or match under 500 ms (the tests ran them at once).
import { loadavg } from "node:os";
import { Markdown, plain } from "../web/markdown.js";
import { patternMatches } from "../server/cli/claude-hook.ts";

const LIMIT = 100_000; // the longest message text an agent may send
const TARGET_MS = 500;

/** Walks the whole tree, so lazily built children are built too. */
function walk(v: unknown): number {
  let n = 0;
  const stack = [v];
  while (stack.length) {
    const x = stack.pop() as any;
    if (x == null || typeof x !== "object") continue;
    if (Array.isArray(x)) stack.push(...x);
    else (n++, stack.push(x.props?.children));
  }
  return n;
}

const cases: [string, () => unknown][] = [
  ["markdown: quotes nested 50,000 deep", () => walk(Markdown({ text: "> ".repeat(LIMIT / 2) + "deep" }))],
  ["markdown: a list indented 400 deep", () => walk(Markdown({ text: Array.from({ length: 400 }, (_, i) => " ".repeat(i) + "- item").join("\n") }))],
  ["markdown: unclosed link openers", () => walk(Markdown({ text: "[a](".repeat(LIMIT / 4) }))],
  ["markdown: unclosed brackets", () => walk(Markdown({ text: "[".repeat(LIMIT - 3) + "](x" }))],
  ["markdown: unclosed **", () => walk(Markdown({ text: "**a ".repeat(LIMIT / 4) }))],
  ["markdown: unclosed *", () => walk(Markdown({ text: "*a ".repeat(LIMIT / 3) }))],
  ["markdown: unclosed __", () => walk(Markdown({ text: "__a ".repeat(LIMIT / 4) }))],
  ["markdown: unclosed ~~", () => walk(Markdown({ text: "~~a ".repeat(LIMIT / 4) }))],
  ["markdown: unclosed ``", () => walk(Markdown({ text: "``a`".repeat(LIMIT / 4) }))],
  ["markdown: links whose text is a URL", () => walk(Markdown({ text: "[https://good.example/a.b.c](https://evil.example/) ".repeat(LIMIT / 52) }))],
  ["markdown: link texts of 1,000 dotted words (host-like, never a host)", () => walk(Markdown({ text: `[${"a1.".repeat(333)}1](https://x.example/) `.repeat(LIMIT / 1030) }))],
  ["markdown: link texts of 1,000 letters and dots", () => walk(Markdown({ text: `[${"ab.".repeat(333)}-](https://x.example/) `.repeat(LIMIT / 1030) }))],
  ["plain(): unclosed link openers", () => plain("[a](".repeat(LIMIT / 4))],
  ["glob: *a×40 then *b against a×50,000", () => patternMatches("Bash(" + "*a".repeat(40) + "*b)", { tool: "Bash", arg: "a".repeat(50_000) })],
  ["glob: a*×40 against a×50,000", () => patternMatches("Bash(" + "a*".repeat(40) + ")", { tool: "Bash", arg: "a".repeat(50_000) })],
];

console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}; target < ${TARGET_MS} ms each (best of 3)`);
let over = 0;
for (const [name, run] of cases) {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  if (best >= TARGET_MS) over++;
  console.log(`${best >= TARGET_MS ? "SLOW" : "ok  "} ${best.toFixed(1).padStart(8)} ms  ${name}`);
}
process.exit(over ? 1 : 0);
