// `nod claude-hook` fails closed and cleans up after itself: every failure is
// a denial that says why (exit 0); its --timeout and a SIGTERM withdraw the
// request; it answers Claude Code's PermissionRequest hook event as well as
// PreToolUse, and turns AskUserQuestion into choice requests. `nod ask
// --timeout` withdraws its request too.
import { describe, expect, test } from "bun:test";
import path from "node:path";
import { eventually, Person, startTestServer, tempDir, withAgent } from "./helpers.ts";
import { agentEnvFor, runNod, spawnNod } from "./cli-util.ts";

const server = await startTestServer();
const { person, created } = await withAgent(server, { name: "Claude" });
const stateDir = tempDir();
let stateN = 0;
/** The agent's env with a fresh always-allow file (tests do not share remembered patterns). */
const hookEnv = (extra: Record<string, string> = {}) =>
  agentEnvFor(server.url, created, { NOD_HOOK_STATE: path.join(stateDir, `state-${++stateN}.json`), ...extra });

const hookInput = (event: string, tool_name: string, tool_input: Record<string, unknown>) =>
  JSON.stringify({
    session_id: "5f1c2e9a-8d7b-4c3e-9a1f-0b2d3e4f5a6b",
    transcript_path: "/home/dev/.claude/projects/shop/5f1c2e9a.jsonl",
    cwd: "/home/dev/shop",
    permission_mode: "default",
    hook_event_name: event,
    tool_name,
    tool_input,
    ...(event === "PreToolUse" ? { tool_use_id: "toolu_01ABCDEF" } : {}),
  });
const bash = (event: string, command: string) => hookInput(event, "Bash", { command, description: "run it" });
const output = (stdout: string) => JSON.parse(stdout).hookSpecificOutput;

/** The one pending request with this title, once the command has created it. */
const pending = (p: Person, title: string) =>
  eventually(async () => {
    const r = await p.get(`/api/decisions?status=pending&agent_id=${created.id}`);
    return (r.body as any[]).find((d) => d.title === title);
  }, 10_000, `pending request "${title}"`);

/** The request with this title, whatever its status (newest first). */
const latest = async (title: string) => ((await person.get(`/api/decisions?agent_id=${created.id}`)).body as any[]).find((d) => d.title === title);

describe("fails closed", () => {
  test("nod unreachable: a denial with the reason, exit 0, for both hook events", async () => {
    const env = hookEnv({ NOD_API_URL: "http://127.0.0.1:9" });
    const pre = await runNod(["claude-hook"], { env, stdin: bash("PreToolUse", "ls") });
    expect(pre.exitCode).toBe(0);
    expect(output(pre.stdout)).toMatchObject({ hookEventName: "PreToolUse", permissionDecision: "deny" });
    expect(output(pre.stdout).permissionDecisionReason).toContain("cannot reach http://127.0.0.1:9");
    const perm = await runNod(["claude-hook"], { env, stdin: bash("PermissionRequest", "ls") });
    expect(perm.exitCode).toBe(0);
    expect(output(perm.stdout)).toMatchObject({ hookEventName: "PermissionRequest", decision: { behavior: "deny" } });
    expect(output(perm.stdout).decision.message).toContain("cannot reach");
  });

  test("a refused secret: a denial that says 401, exit 0", async () => {
    const res = await runNod(["claude-hook"], { env: hookEnv({ NOD_SECRET: "nod_wrong" }), stdin: bash("PreToolUse", "ls") });
    expect(res.exitCode).toBe(0);
    expect(output(res.stdout)).toMatchObject({ permissionDecision: "deny" });
    expect(output(res.stdout).permissionDecisionReason).toContain("401");
  });

  test("an unexpected failure (a server that answers nonsense) is a denial too, never exit 1", async () => {
    const odd = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
    try {
      const res = await runNod(["claude-hook"], { env: hookEnv({ NOD_API_URL: `http://127.0.0.1:${odd.port}` }), stdin: bash("PreToolUse", "ls") });
      expect(res.exitCode).toBe(0);
      expect(output(res.stdout)).toMatchObject({ permissionDecision: "deny" });
      expect(output(res.stdout).permissionDecisionReason).toStartWith("nod could not ask for permission: ");
    } finally {
      odd.stop(true);
    }
  });

  test("--timeout: denied, and the request is withdrawn (cancelled by the agent)", async () => {
    const res = await runNod(["claude-hook", "--timeout", "1s"], { env: hookEnv(), stdin: bash("PreToolUse", "make slow") });
    expect(res.exitCode).toBe(0);
    expect(output(res.stdout)).toMatchObject({ permissionDecision: "deny", permissionDecisionReason: "No answer in nod within 1s" });
    expect(await latest("Allow: Bash(make slow)")).toMatchObject({ status: "cancelled", resolved_by: "agent" });
  });

  test("SIGTERM while waiting: the request is withdrawn, the call denied, exit 0", async () => {
    const run = spawnNod(["claude-hook"], { env: hookEnv(), stdin: bash("PreToolUse", "make killed") });
    const d = await pending(person, "Allow: Bash(make killed)");
    run.proc.kill("SIGTERM");
    const res = await run.done;
    expect(res.exitCode).toBe(0);
    expect(output(res.stdout)).toMatchObject({ permissionDecision: "deny" });
    expect(output(res.stdout).permissionDecisionReason).toContain("stopped");
    expect((await person.get(`/api/decisions/${d.id}`)).body).toMatchObject({ status: "cancelled" });
  });

  test("another hook event: no opinion (exit 0, no output)", async () => {
    const res = await runNod(["claude-hook"], { env: hookEnv(), stdin: bash("PostToolUse", "ls") });
    expect(res).toMatchObject({ exitCode: 0, stdout: "" });
  });
});

describe("PermissionRequest", () => {
  test("allow and deny in Claude Code's decision shape", async () => {
    const env = hookEnv();
    const run = spawnNod(["claude-hook"], { env, stdin: bash("PermissionRequest", "git push") });
    const d = await pending(person, "Allow: Bash(git push)");
    expect(d).toMatchObject({ kind: "permission", allows_always: true });
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved" });
    const res = await run.done;
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ hookSpecificOutput: { hookEventName: "PermissionRequest", decision: { behavior: "allow" } } });

    const run2 = spawnNod(["claude-hook"], { env, stdin: bash("PermissionRequest", "git push --force") });
    const d2 = await pending(person, "Allow: Bash(git push --force)");
    await person.post(`/api/decisions/${d2.id}/respond`, { status: "rejected", note: "never force" });
    expect(output((await run2.done).stdout)).toEqual({ hookEventName: "PermissionRequest", decision: { behavior: "deny", message: "Denied in nod: never force" } });
  });

  test("always allow goes back as a rule Claude Code keeps, and is remembered", async () => {
    const env = hookEnv();
    const run = spawnNod(["claude-hook"], { env, stdin: bash("PermissionRequest", "npm run build") });
    const d = await pending(person, "Allow: Bash(npm run build)");
    expect(d.always_allow_options[0]).toMatchObject({ pattern: "Bash(npm run *)" });
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Bash(npm run *)" });
    const rule = { type: "addRules", rules: [{ toolName: "Bash", ruleContent: "npm run *" }], behavior: "allow", destination: "localSettings" };
    expect(output((await run.done).stdout)).toEqual({ hookEventName: "PermissionRequest", decision: { behavior: "allow", updatedPermissions: [rule] } });

    // The next such call is allowed at once, without a request.
    const before = (await person.get(`/api/decisions?agent_id=${created.id}`)).body.length;
    const again = await runNod(["claude-hook"], { env, stdin: bash("PermissionRequest", "npm run test") });
    expect(output(again.stdout)).toEqual({ hookEventName: "PermissionRequest", decision: { behavior: "allow", updatedPermissions: [rule] } });
    expect((await person.get(`/api/decisions?agent_id=${created.id}`)).body.length).toBe(before);
  });

  test("file and web patterns become Claude Code rules (absolute paths with //)", async () => {
    const env = hookEnv();
    const run = spawnNod(["claude-hook"], { env, stdin: hookInput("PermissionRequest", "Edit", { file_path: "/home/dev/shop/src/app.ts", old_string: "a", new_string: "b" }) });
    const d = await pending(person, "Allow: Edit(/home/dev/shop/src/app.ts)");
    await person.post(`/api/decisions/${d.id}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Edit(/home/dev/shop/src/*)" });
    expect(output((await run.done).stdout).decision.updatedPermissions[0].rules).toEqual([{ toolName: "Edit", ruleContent: "//home/dev/shop/src/**" }]);
  });
});

describe("AskUserQuestion", () => {
  const questions = [
    {
      question: "Which database should we use?",
      header: "Database",
      options: [
        { label: "PostgreSQL", description: "Shared server" },
        { label: "SQLite", description: "One file" },
      ],
      multiSelect: false,
    },
    { question: "Add a cache?", header: "Cache", options: [{ label: "Yes", description: "" }, { label: "No", description: "" }], multiSelect: false },
  ];

  test("each question is a choice request; the answers go back as the tool's input", async () => {
    const run = spawnNod(["claude-hook"], { env: hookEnv(), stdin: hookInput("PreToolUse", "AskUserQuestion", { questions }) });
    const q1 = await pending(person, "Which database should we use?");
    expect(q1).toMatchObject({ kind: "choice", options: ["PostgreSQL", "SQLite"] });
    expect(q1.description).toContain("One file");
    await person.post(`/api/decisions/${q1.id}/respond`, { status: "responded", note: "SQLite" });
    const q2 = await pending(person, "Add a cache?");
    await person.post(`/api/decisions/${q2.id}/respond`, { status: "responded", note: "Only for reads" }); // typed in Other
    const res = await run.done;
    expect(res.exitCode).toBe(0);
    expect(output(res.stdout)).toEqual({
      hookEventName: "PreToolUse",
      permissionDecision: "allow",
      permissionDecisionReason: "Answered in nod",
      updatedInput: { questions, answers: { "Which database should we use?": "SQLite", "Add a cache?": "Only for reads" } },
    });
  });

  test("as a PermissionRequest too; a dismissed question denies", async () => {
    const run = spawnNod(["claude-hook"], { env: hookEnv(), stdin: hookInput("PermissionRequest", "AskUserQuestion", { questions: [questions[1]] }) });
    const q = await pending(person, "Add a cache?");
    await person.post(`/api/decisions/${q.id}/respond`, { status: "responded", note: "No" });
    expect(output((await run.done).stdout)).toEqual({
      hookEventName: "PermissionRequest",
      decision: { behavior: "allow", updatedInput: { questions: [questions[1]], answers: { "Add a cache?": "No" } } },
    });

    const run2 = spawnNod(["claude-hook"], { env: hookEnv(), stdin: hookInput("PreToolUse", "AskUserQuestion", { questions: [questions[0]] }) });
    const q2 = await pending(person, "Which database should we use?");
    await person.post(`/api/decisions/${q2.id}/respond`, { status: "dismissed" });
    expect(output((await run2.done).stdout)).toMatchObject({ permissionDecision: "deny" });
  });
});

describe("nod ask --timeout", () => {
  test("withdraws its request when nobody answers in time (exit 3)", async () => {
    const res = await runNod(["ask", "Nobody home?", "--timeout", "1s"], { env: hookEnv() });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain("withdrawn");
    expect(await latest("Nobody home?")).toMatchObject({ status: "cancelled", resolved_by: "agent" });
  });

  test("SIGTERM while waiting withdraws it too", async () => {
    const run = spawnNod(["ask", "Interrupted?"], { env: hookEnv() });
    const d = await pending(person, "Interrupted?");
    run.proc.kill("SIGTERM");
    expect((await run.done).exitCode).toBe(130);
    expect((await person.get(`/api/decisions/${d.id}`)).body.status).toBe("cancelled");
  });
});
