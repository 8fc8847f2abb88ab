// Opt-in (NOD_TEST_CLAUDE=1): the real Claude Code binary against nod, with
// a stand-in Anthropic Messages API on loopback that makes the "model" call
// one tool, then reports the tool's result. Shows that Claude Code honours
// what `nod claude-hook` and `nod mcp` answer.
//
//   npm install --prefix /tmp/claude-sdk @anthropic-ai/claude-agent-sdk@0.3.332
//   NOD_TEST_CLAUDE=1 CLAUDE_BIN=/tmp/claude-sdk/node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude bun test test/claude-code-real.test.ts
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { eventually, Person, startTestServer, tempDir, withAgent } from "./helpers.ts";
import { MAIN } from "./cli-util.ts";

const CLAUDE = process.env.CLAUDE_BIN ?? "/tmp/claude-sdk/node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude";
const enabled = process.env.NOD_TEST_CLAUDE === "1" && existsSync(CLAUDE);

/** A stand-in Messages API: the first turn calls `tool` with `input`; after the tool_result, a text turn quoting it. */
function standIn(tool: string, input: Record<string, unknown>) {
  const results: any[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const body: any = req.method === "POST" ? await req.json().catch(() => null) : null;
      if (!new URL(req.url).pathname.endsWith("/v1/messages")) return Response.json({});
      const msgs: any[] = body?.messages ?? [];
      const last = msgs[msgs.length - 1];
      const result = (Array.isArray(last?.content) ? last.content : []).find((c: any) => c.type === "tool_result");
      const ours = (body?.tools ?? []).some((t: any) => t.name === tool) && JSON.stringify(msgs[0]?.content ?? "").includes("NODTEST");
      if (result) results.push(result);
      const blocks = result || !ours ? [{ type: "text", text: "done" }] : [{ type: "tool_use", id: `toolu_${results.length}`, name: tool, input }];
      return sse(blocks);
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, results, stop: () => server.stop(true) };
}

function sse(blocks: any[]) {
  const stop = blocks[0].type === "tool_use" ? "tool_use" : "end_turn";
  const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const message = { id: `msg_${Date.now()}`, type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } };
  let out = ev("message_start", { message });
  blocks.forEach((b, index) => {
    const start = b.type === "text" ? { type: "text", text: "" } : { type: "tool_use", id: b.id, name: b.name, input: {} };
    const delta = b.type === "text" ? { type: "text_delta", text: b.text } : { type: "input_json_delta", partial_json: JSON.stringify(b.input) };
    out += ev("content_block_start", { index, content_block: start }) + ev("content_block_delta", { index, delta }) + ev("content_block_stop", { index });
  });
  out += ev("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } }) + ev("message_stop", {});
  return new Response(out, { headers: { "content-type": "text/event-stream" } });
}

const resultText = (r: any) => (typeof r.content === "string" ? r.content : JSON.stringify(r.content));

// Not describe.skipIf: a skipped block's body still runs, and would start a server.
const describeIfEnabled = enabled
  ? describe
  : (name: string, _fn: unknown) => describe.skip(name, () => test("opt-in: NOD_TEST_CLAUDE=1 with the Agent SDK's Claude Code installed", () => {}));

describeIfEnabled("real Claude Code", async () => {
  const server = await startTestServer();
  const { person, created } = await withAgent(server, { name: "Claude Code" });
  const nodEnv = { NOD_API_URL: server.url, NOD_AGENT_ID: created.id, NOD_SECRET: created.secret };
  const home = tempDir("nod-claude-home-");
  const nodCmd = `${process.execPath} run ${MAIN}`;

  const pending = (p: Person, title: string) =>
    eventually(async () => ((await p.get(`/api/decisions?status=pending&agent_id=${created.id}`)).body as any[]).find((d) => d.title === title), 30_000, title);

  /** Runs `claude -p` in a fresh project folder; resolves when it exits. */
  function claude(apiUrl: string, args: string[], settings: unknown, extraEnv: Record<string, string> = {}) {
    const work = mkdtempSync(path.join(home, "work-"));
    writeFileSync(path.join(work, "settings.json"), JSON.stringify(settings));
    const proc = Bun.spawn([CLAUDE, "-p", "NODTEST do it", "--settings", path.join(work, "settings.json"), "--output-format", "stream-json", "--verbose", ...args], {
      cwd: work,
      env: {
        PATH: process.env.PATH!,
        HOME: home,
        ANTHROPIC_BASE_URL: apiUrl,
        ANTHROPIC_API_KEY: "sk-test",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        NOD_HOOK_STATE: path.join(work, "always-allow.json"),
        ...nodEnv,
        ...extraEnv,
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const done = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).then(([stdout, stderr, code]) => ({ stdout, stderr, code }));
    return { work, done };
  }

  const hookSettings = (event: string, matcher: string) => ({
    hooks: { [event]: [{ matcher, hooks: [{ type: "command", command: `${nodCmd} claude-hook --timeout 1m`, timeout: 90, onFailure: "block" }] }] },
  });

  test("PreToolUse: allowed in nod, the command runs; denied, Claude is told why", async () => {
    const api = standIn("Bash", { command: "echo hello-from-nod", description: "greet" });
    const run = claude(api.url, [], hookSettings("PreToolUse", "Bash"));
    const d = await pending(person, "Allow: Bash(echo hello-from-nod)");
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved" });
    await run.done;
    expect(api.results).toHaveLength(1);
    expect(api.results[0].is_error ?? false).toBe(false);
    expect(resultText(api.results[0])).toContain("hello-from-nod");
    api.stop();

    const api2 = standIn("Bash", { command: "echo never", description: "greet" });
    const run2 = claude(api2.url, [], hookSettings("PreToolUse", "Bash"));
    const d2 = await pending(person, "Allow: Bash(echo never)");
    await person.post(`/api/decisions/${d2.id}/respond`, { status: "rejected", note: "not now" });
    await run2.done;
    expect(api2.results[0].is_error).toBe(true);
    expect(resultText(api2.results[0])).toContain("Denied in nod: not now");
    api2.stop();
  }, 120_000);

  test("PermissionRequest: always allow in nod becomes a rule in .claude/settings.local.json", async () => {
    const api = standIn("Bash", { command: "touch made-by-claude", description: "make a file" });
    const run = claude(api.url, [], hookSettings("PermissionRequest", "*"));
    const d = await pending(person, "Allow: Bash(touch made-by-claude)").catch(async (e) => {
      api.stop();
      const r = await run.done;
      throw new Error(`${e.message}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
    });
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Bash(touch *)" });
    await run.done;
    expect(api.results[0]?.is_error ?? false).toBe(false);
    expect(existsSync(path.join(run.work, "made-by-claude"))).toBe(true);
    const local = JSON.parse(readFileSync(path.join(run.work, ".claude", "settings.local.json"), "utf8"));
    expect(local.permissions.allow).toContain("Bash(touch *)");
    api.stop();
  }, 120_000);

  // Claude Code offers AskUserQuestion in -p mode only with a permission prompt tool.
  const questions = [{ question: "Which database?", header: "DB", options: [{ label: "PostgreSQL", description: "server" }, { label: "SQLite", description: "file" }], multiSelect: false }];
  const mcpArgs = () => [
    "--mcp-config",
    JSON.stringify({ mcpServers: { nod: { command: process.execPath, args: ["run", MAIN, "mcp"], env: nodEnv } } }),
    "--permission-prompt-tool",
    "mcp__nod__request_permission",
  ];

  for (const via of ["the MCP permission prompt", "the PreToolUse hook"]) {
    test(`AskUserQuestion through ${via}: answered in nod, Claude reads the answer`, async () => {
      const api = standIn("AskUserQuestion", { questions });
      const run = claude(api.url, mcpArgs(), via.includes("hook") ? hookSettings("PreToolUse", "AskUserQuestion") : {});
      const d = await pending(person, "Which database?").catch(async (e) => {
        api.stop();
        const r = await run.done;
        throw new Error(`${e.message}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
      });
      await person.post(`/api/decisions/${d.id}/respond`, { status: "responded", note: "SQLite" });
      await run.done;
      expect(api.results[0].is_error ?? false).toBe(false);
      expect(resultText(api.results[0])).toContain("SQLite");
      api.stop();
    }, 120_000);
  }

  test("--permission-prompt-tool mcp__nod__request_permission", async () => {
    const api = standIn("Bash", { command: "touch via-mcp", description: "make a file" });
    const run = claude(api.url, mcpArgs(), {});
    const d = await pending(person, "Allow: Bash(touch via-mcp)").catch(async (e) => {
      api.stop();
      const r = await run.done;
      throw new Error(`${e.message}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
    });
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved" });
    await run.done;
    expect(api.results[0].is_error ?? false).toBe(false);
    expect(existsSync(path.join(run.work, "via-mcp"))).toBe(true);
    api.stop();
  }, 120_000);
});
