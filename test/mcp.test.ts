// `nod mcp` through the official SDK's own client over stdio (the process is
// spawned as an MCP client spawns it), with people answering through the
// people API.
import { afterAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { eventually, Person, startTestServer, tempDir, withAgent } from "./helpers.ts";
import { agentEnvFor, MAIN, runNod } from "./cli-util.ts";

const server = await startTestServer();
const { person, created } = await withAgent(server, { name: "MCP Agent" });
const stateFile = path.join(tempDir(), "always-allow.json");
const env = agentEnvFor(server.url, created, { NOD_HOOK_STATE: stateFile });
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith("NOD_") && v !== undefined)) as Record<string, string>;

/** An SDK client connected to a fresh `nod mcp` process; protocol errors (e.g. a stray line on stdout) are collected. */
async function connect(args: string[] = [], extraEnv: Record<string, string> = {}) {
  const transport = new StdioClientTransport({ command: process.execPath, args: ["run", MAIN, "mcp", ...args], env: { ...baseEnv, ...env, ...extraEnv }, stderr: "pipe" });
  const errors: Error[] = [];
  const client = new Client({ name: "nod-test", version: "1.0.0" });
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  afterAll(() => client.close());
  return { client, transport, errors };
}

/** Calls a tool and parses its text result as JSON. */
async function call(client: Client, name: string, args: Record<string, unknown>) {
  const res: any = await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 });
  expect(res.isError ?? false).toBe(false);
  return JSON.parse(res.content[0].text);
}

const pending = (p: Person, title: string) =>
  eventually(async () => {
    const r = await p.get(`/api/decisions?status=pending&agent_id=${created.id}`);
    return (r.body as any[]).find((d) => d.title === title);
  }, 15_000, `pending request "${title}"`);

const main = await connect();

describe("nod mcp", () => {
  test("lists exactly the documented tools", async () => {
    const { tools } = await main.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["ask", "check_answer", "log_activity", "request_permission", "send_message"]);
    const perm = tools.find((t) => t.name === "request_permission")!;
    expect(Object.keys(perm.inputSchema.properties ?? {}).sort()).toEqual(["input", "tool_name", "tool_use_id"]);
    expect(main.client.getServerVersion()).toMatchObject({ name: "nod" });
  });

  test("request_permission: allow returns the input; deny the person's reason", async () => {
    const input = { command: "npm install stripe", description: "Install the SDK" };
    const allowed = call(main.client, "request_permission", { tool_name: "Bash", input, tool_use_id: "toolu_1" });
    const d = await pending(person, "Allow: Bash(npm install stripe)");
    expect(d).toMatchObject({ kind: "permission", allows_always: true, always_allow_options: [{ pattern: "Bash(npm install *)" }, { pattern: "Bash(npm install stripe)" }] });
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved" });
    expect(await allowed).toEqual({ behavior: "allow", updatedInput: input });

    const denied = call(main.client, "request_permission", { tool_name: "Bash", input: { command: "rm -rf /" } });
    const d2 = await pending(person, "Allow: Bash(rm -rf /)");
    await person.post(`/api/decisions/${d2.id}/respond`, { status: "rejected", note: "no" });
    expect(await denied).toEqual({ behavior: "deny", message: "Denied in nod: no" });
  });

  test("request_permission: always allow is remembered, shared with nod claude-hook", async () => {
    const first = call(main.client, "request_permission", { tool_name: "Bash", input: { command: "git commit -m wip" } });
    const d = await pending(person, "Allow: Bash(git commit -m wip)");
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Bash(git commit *)" });
    expect(await first).toMatchObject({ behavior: "allow" });

    const before = (await person.get(`/api/decisions?agent_id=${created.id}`)).body.length;
    expect(await call(main.client, "request_permission", { tool_name: "Bash", input: { command: "git commit -m done" } })).toEqual({
      behavior: "allow",
      updatedInput: { command: "git commit -m done" },
    });
    const hook = await runNod(["claude-hook"], { env, stdin: JSON.stringify({ hook_event_name: "PreToolUse", tool_name: "Bash", tool_input: { command: "git commit -m hook" } }) });
    expect(JSON.parse(hook.stdout).hookSpecificOutput).toMatchObject({ permissionDecision: "allow" });
    expect((await person.get(`/api/decisions?agent_id=${created.id}`)).body.length).toBe(before);
  });

  test("request_permission: nobody answers within --permission-timeout: denied and withdrawn", async () => {
    const quick = await connect(["--permission-timeout", "1s"]);
    const res = await call(quick.client, "request_permission", { tool_name: "Write", input: { file_path: "/tmp/x.txt", content: "x" } });
    expect(res).toEqual({ behavior: "deny", message: "No answer in nod within 1s" });
    const list = (await person.get(`/api/decisions?agent_id=${created.id}`)).body as any[];
    expect(list.find((d) => d.title === "Allow: Write(/tmp/x.txt)")).toMatchObject({ status: "cancelled" });
  });

  test("request_permission for AskUserQuestion asks the questions; the answers come back as the tool's input", async () => {
    const questions = [{ question: "Which region?", header: "Region", options: [{ label: "eu-west", description: "Dublin" }, { label: "us-east", description: "Virginia" }], multiSelect: false }];
    const asked = call(main.client, "request_permission", { tool_name: "AskUserQuestion", input: { questions } });
    const d = await pending(person, "Which region?");
    expect(d).toMatchObject({ kind: "choice", options: ["eu-west", "us-east"] });
    await person.post(`/api/decisions/${d.id}/respond`, { status: "responded", note: "eu-west" });
    expect(await asked).toEqual({ behavior: "allow", updatedInput: { questions, answers: { "Which region?": "eu-west" } } });
  });

  test("ask answered in time: the status and the note", async () => {
    const asked = call(main.client, "ask", { title: "Deploy v2?", description: "All green" });
    const d = await pending(person, "Deploy v2?");
    expect(d).toMatchObject({ kind: "approval", description: "All green" });
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved", note: "go" });
    expect(await asked).toEqual({ status: "approved", note: "go", decision_id: d.id });

    const choice = call(main.client, "ask", { title: "Which DB?", options: ["PostgreSQL", "SQLite"] });
    const c = await pending(person, "Which DB?");
    expect(c).toMatchObject({ kind: "choice", options: ["PostgreSQL", "SQLite"] });
    await person.post(`/api/decisions/${c.id}/respond`, { status: "responded", note: "SQLite" });
    expect(await choice).toEqual({ status: "responded", note: "SQLite", decision_id: c.id });
  });

  test("ask without an answer in time is pending; check_answer continues", async () => {
    const first = await call(main.client, "ask", { title: "Name the project?", kind: "question", timeout_seconds: 1 });
    expect(first.status).toBe("pending");
    expect(first.decision_id).toStartWith("dec_");
    expect(await call(main.client, "check_answer", { decision_id: first.decision_id, wait_seconds: 0 })).toEqual({ status: "pending", decision_id: first.decision_id });
    const checking = call(main.client, "check_answer", { decision_id: first.decision_id, wait_seconds: 30 });
    const d = await pending(person, "Name the project?");
    expect(d.id).toBe(first.decision_id);
    await person.post(`/api/decisions/${d.id}/respond`, { status: "responded", note: "nod-payments" });
    expect(await checking).toEqual({ status: "responded", note: "nod-payments", decision_id: d.id });
  });

  test("a client that cancels its ask (it never learns the id) withdraws the request", async () => {
    const abort = new AbortController();
    const asking = main.client.callTool({ name: "ask", arguments: { title: "Cancelled by the client?" } }, undefined, { signal: abort.signal }).catch((e) => e);
    const d = await pending(person, "Cancelled by the client?");
    abort.abort();
    expect(await asking).toBeInstanceOf(Error);
    await eventually(async () => (await person.get(`/api/decisions/${d.id}`)).body.status === "cancelled", 10_000, "withdrawn");
  });

  test("check_answer of an unknown request is a tool error; bad input is refused", async () => {
    const res: any = await main.client.callTool({ name: "check_answer", arguments: { decision_id: "dec_nope", wait_seconds: 0 } });
    expect(res.isError).toBe(true);
    expect(res.content[0].text).toContain("404");
    const bad: any = await main.client.callTool({ name: "ask", arguments: { title: "" } });
    expect(bad.isError).toBe(true);
  });

  test("send_message and log_activity", async () => {
    const sent = await call(main.client, "send_message", { text: "Build finished **green**" });
    expect(sent.message_id).toStartWith("msg_");
    expect(sent.conversation_id).toStartWith("conv_");
    const msgs = (await person.get(`/api/conversations/${sent.conversation_id}/messages`)).body as any[];
    expect(msgs.find((m) => m.id === sent.message_id)).toMatchObject({ role: "agent", text: "Build finished **green**" });

    const act = await call(main.client, "log_activity", { title: "Deployed v2", text: "3 services" });
    expect(act.activity_id).toStartWith("act_");
    const feed = (await person.get(`/api/agents/${created.id}/activity`)).body as any[];
    expect(feed.find((a) => a.id === act.activity_id)).toMatchObject({ type: "agent_action", title: "Deployed v2", text: "3 services" });
  });

  test("closing the client withdraws a permission request still waiting", async () => {
    const c = await connect();
    const waiting = c.client.callTool({ name: "request_permission", arguments: { tool_name: "Bash", input: { command: "make release" } } }).catch((e) => e);
    const d = await pending(person, "Allow: Bash(make release)");
    await c.client.close();
    await waiting;
    await eventually(async () => (await person.get(`/api/decisions/${d.id}`)).body.status === "cancelled", 10_000, "withdrawn");
  });

  test("nothing but protocol on stdout", async () => {
    expect(main.errors).toEqual([]);
    const proc = Bun.spawn([process.execPath, "run", MAIN, "mcp"], { env: { ...baseEnv, ...env }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const lines = [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
    ];
    for (const l of lines) proc.stdin.write(JSON.stringify(l) + "\n");
    proc.stdin.flush();
    let out = "";
    const decoder = new TextDecoder();
    const reader = proc.stdout.getReader();
    while (!/"id":2/.test(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
    }
    proc.stdin.end(); // the client goes away: the server exits
    expect(await proc.exited).toBe(0);
    const stdoutLines = out.trim().split("\n");
    expect(stdoutLines.length).toBe(2);
    for (const l of stdoutLines) expect(JSON.parse(l).jsonrpc).toBe("2.0");
    expect(await new Response(proc.stderr).text()).toContain("nod mcp:"); // the log went to stderr
  });

  test("without credentials it says so on stderr and exits 2", async () => {
    const res = await runNod(["mcp"], { env: { NOD_API_URL: server.url } });
    expect(res.exitCode).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr).toContain("NOD_AGENT_ID");
  });
});
