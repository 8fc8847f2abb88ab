// The Claude Code hook's call syntax and always-allow patterns (pure functions).
import { describe, expect, test } from "bun:test";
import { alwaysAllowOptions, formatCall, patternMatches, toolCall } from "../server/cli/claude-hook.ts";

const call = (tool_name: string, tool_input: Record<string, unknown> = {}) => toolCall({ tool_name, tool_input });

describe("claude-hook patterns", () => {
  test("calls are written in Claude Code's rule syntax", () => {
    expect(formatCall(call("Bash", { command: "npm install stripe" }))).toBe("Bash(npm install stripe)");
    expect(formatCall(call("Edit", { file_path: "/src/app.ts", old_string: "a", new_string: "b" }))).toBe("Edit(/src/app.ts)");
    expect(formatCall(call("WebFetch", { url: "https://docs.example.com/x", prompt: "?" }))).toBe("WebFetch(https://docs.example.com/x)");
    expect(formatCall(call("mcp__github__create_issue", { title: "x" }))).toBe("mcp__github__create_issue");
  });

  test("options go from broad to exact", () => {
    expect(alwaysAllowOptions(call("Bash", { command: "git push origin main" })).map((o) => o.pattern)).toEqual(["Bash(git push *)", "Bash(git push origin main)"]);
    expect(alwaysAllowOptions(call("Bash", { command: "ls -la" })).map((o) => o.pattern)).toEqual(["Bash(ls *)", "Bash(ls -la)"]);
    expect(alwaysAllowOptions(call("Bash", { command: "make" })).map((o) => o.pattern)).toEqual(["Bash(make)"]);
    expect(alwaysAllowOptions(call("Write", { file_path: "/src/a.ts" })).map((o) => o.pattern)).toEqual(["Write(/src/*)", "Write(/src/a.ts)"]);
    expect(alwaysAllowOptions(call("WebFetch", { url: "https://docs.example.com/x" })).map((o) => o.pattern)).toEqual([
      "WebFetch(domain:docs.example.com)",
      "WebFetch(https://docs.example.com/x)",
    ]);
    expect(alwaysAllowOptions(call("mcp__db__query")).map((o) => o.pattern)).toEqual(["mcp__db__query"]);
  });

  test("matching", () => {
    const bash = (command: string) => call("Bash", { command });
    expect(patternMatches("Bash(npm install *)", bash("npm install zod"))).toBe(true);
    expect(patternMatches("Bash(npm install *)", bash("npm run build"))).toBe(false);
    expect(patternMatches("Bash(npm install *)", bash("npm install x; rm -rf /"))).toBe(false);
    expect(patternMatches("Bash(npm install *)", bash("npm install $(curl evil)"))).toBe(false);
    expect(patternMatches("Bash(npm install x && echo ok)", bash("npm install x && echo ok"))).toBe(true); // exact
    expect(patternMatches("Bash", bash("anything at all"))).toBe(true);
    expect(patternMatches("Edit", bash("ls"))).toBe(false);
    expect(patternMatches("Edit(/src/*)", call("Edit", { file_path: "/src/deep/a.ts" }))).toBe(true);
    expect(patternMatches("Edit(/src/*)", call("Edit", { file_path: "/etc/passwd" }))).toBe(false);
    expect(patternMatches("WebFetch(domain:example.com)", call("WebFetch", { url: "https://example.com/a" }))).toBe(true);
    expect(patternMatches("WebFetch(domain:example.com)", call("WebFetch", { url: "https://example.com.evil.io/a" }))).toBe(false);
    expect(patternMatches("mcp__db__query", call("mcp__db__query", { sql: "select 1" }))).toBe(true);
  });
});
