// The public Nod agent API, checked against its documents (/work/shared/spec)
// and API.md's "Where the Nod documents are silent" table, one row per
// documented request, response, frame and close code. Request bodies are the
// documents' examples verbatim (ids in them replaced by real ones); expected
// bodies are the documents' response shapes.
//
// Rows run in order and share state (ids made by earlier rows), like a client
// walking through the documents. The clock is injected: 2025-09-01T14:00:00Z,
// so "0 */6 * * *" is next due at the documents' own 2025-09-01T18:00:00Z.
import { describe, expect, test } from "bun:test";
import { AGENT_WS } from "../server/realtime/agent-socket.ts";
import { AgentClient, owner, request, startTestServer, type Person, type Res } from "./helpers.ts";
import { checkEverywhere, ISO_Z } from "./conventions.ts";
import { connectAgent, openAgentSocket, webhookReceiver, type AgentSocketClient, type Frame } from "./ws-helpers.ts";

const id = (prefix: string) => expect.stringMatching(new RegExp(`^${prefix}[0-9a-f]+$`));
const isoZ = () => expect.stringMatching(ISO_Z);
// Bun's toMatchObject writes the asymmetric matchers into the object it checks: check a copy.
const clone = <T,>(v: T): T => structuredClone(v);



/** Shared state: ids the rows make and use. */
type S = Record<string, any>;
type Val<T> = T | ((s: S) => T);
const val = <T,>(v: Val<T>, s: S): T => (typeof v === "function" ? (v as (s: S) => T)(s) : v);

interface Row {
  name: string;
  method: "GET" | "POST";
  path: Val<string>;
  /** A JSON body (object), or raw text with its own content type. */
  body?: Val<unknown>;
  raw?: { text: Val<string>; type?: string };
  /** Who calls: the agent (default), another agent, nobody, or bad credentials. */
  as?: "agent" | "approval" | "other" | "none" | "wrong-secret" | "webhook-agent";
  status: number;
  /** A fragment the body must contain (toMatchObject). */
  expect?: Val<object>;
  /** A check of its own. */
  check?: (body: any, s: S) => void;
  save?: (body: any, s: S) => void;
}

const FAKE_NOW = Date.parse("2025-09-01T14:00:00Z");

describe("the Nod agent API, as documented", async () => {
  const server = await startTestServer({ now: () => FAKE_NOW });
  const person: Person = await owner(server);
  const a = await person.createAgent({ name: "My Agent" });
  const b = await person.createAgent({ name: "Other Agent" });
  const ap = await person.createAgent({ name: "Gate", type: "approval_only" });
  const hook = await webhookReceiver();
  const wh = await person.createAgent({ name: "Hooked", webhook_url: hook.url });
  const client = {
    agent: new AgentClient(server.url, a.id, a.secret),
    other: new AgentClient(server.url, b.id, b.secret),
    approval: new AgentClient(server.url, ap.id, ap.secret),
    "webhook-agent": new AgentClient(server.url, wh.id, wh.secret),
    "wrong-secret": new AgentClient(server.url, a.id, "nod_" + "0".repeat(40)),
  };
  // The agent's socket: everything the server pushes to it lands here.
  const ws: AgentSocketClient = await connectAgent(server, a);
  const s: S = {};

  async function call(row: Row): Promise<Res> {
    const path = val(row.path, s);
    if (row.as === "none") {
      if (row.raw) return request(server.url, row.method, path, { raw: val(row.raw.text, s), headers: row.raw.type ? { "content-type": row.raw.type } : {} });
      return request(server.url, row.method, path, row.body === undefined ? {} : { body: val(row.body, s) });
    }
    const c = client[row.as ?? "agent"];
    if (row.raw)
      return request(server.url, row.method, path, {
        raw: val(row.raw.text, s),
        headers: { "x-nod-agent-id": c.id, "x-nod-secret": c.secret, ...(row.raw.type ? { "content-type": row.raw.type } : {}) },
      });
    return c.call(row.method, path, row.body === undefined ? undefined : val(row.body, s));
  }

  function runRows(rows: Row[]) {
    for (const row of rows) {
      test(`${row.method} ${typeof row.path === "string" ? row.path : "…"} — ${row.name}`, async () => {
        const res = await call(row);
        expect(res.status, JSON.stringify(res.body)).toBe(row.status);
        if (row.status >= 400) expect(res.body).toEqual({ detail: expect.any(String) });
        checkEverywhere(res.body);
        if (row.expect !== undefined) expect(clone(res.body)).toMatchObject(val(row.expect, s));
        row.check?.(res.body, s);
        row.save?.(res.body, s);
      });
    }
  }

  describe("000 authentication: the two headers", () => {
    runRows([
      { name: "the documents' first example", method: "POST", path: "/api/agent/events", body: { type: "message", text: "Hello!" }, status: 200, expect: { status: "ok", message_id: id("msg_") } },
      { name: "no headers → 401", method: "POST", path: "/api/agent/events", as: "none", body: { type: "message", text: "Hello!" }, status: 401 },
      { name: "wrong secret → 401", method: "POST", path: "/api/agent/events", as: "wrong-secret", body: { type: "message", text: "Hello!" }, status: 401 },
      { name: "every agent route needs them", method: "GET", path: "/api/agent/tasks", as: "none", status: 401 },
    ]);
    test("id formats: agt_ + 16 hex, nod_ + 40 hex", () => {
      expect(a.id).toMatch(/^agt_[0-9a-f]{16}$/);
      expect(a.secret).toMatch(/^nod_[0-9a-f]{40}$/);
    });
  });

  describe("002 connections: POST /api/agent/events", () => {
    runRows([
      {
        name: "the connections guide's message",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "message", text: "Deployment complete!" },
        status: 200,
        expect: { status: "ok", message_id: id("msg_"), conversation_id: id("conv_") },
        save: (b, s) => (s.conv = b.conversation_id),
      },
      {
        name: "an omitted conversation_id means the agent's one default conversation",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "message", text: "Again" },
        status: 200,
        check: (b: any, s: S) => expect(b.conversation_id).toBe(s.conv),
      },
      { name: "messages: 403 for an approval-only agent", method: "POST", path: "/api/agent/events", as: "approval", body: { type: "message", text: "Hello!" }, status: 403 },
      { name: "approval-only agents still create requests", method: "POST", path: "/api/agent/events", as: "approval", body: { type: "decision", title: "Deploy?", description: "", kind: "approval" }, status: 200, expect: { status: "ok", decision_id: id("dec_") } },
      { name: "text is required unless image_base64 is given → 400", method: "POST", path: "/api/agent/events", body: { type: "message" }, status: 400 },
      { name: "an unknown type → 400", method: "POST", path: "/api/agent/events", body: { type: "nonsense" }, status: 400 },
      {
        name: "a bad field → 400 naming it and what is wrong",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "message", text: "Hello!", conversation_id: "" },
        status: 400,
        check: (b: any) => expect(b.detail).toBe("conversation_id: expected string length greater or equal to 1"),
      },
      {
        name: "…also for a too long text",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "alert", title: "x".repeat(501) },
        status: 400,
        check: (b: any) => expect(b.detail).toMatch(/^title: expected string length less or equal to 500$/),
      },
      {
        name: "…and a wrong type",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "message", text: 42 },
        status: 400,
        check: (b: any) => expect(b.detail).toMatch(/^text: /),
      },
      { name: "a conversation of another agent → 404", method: "POST", path: "/api/agent/events", as: "other", body: (s: S) => ({ type: "message", text: "x", conversation_id: s.conv }), status: 404 },
    ]);
  });

  describe("003 requests", () => {
    runRows([
      {
        name: "approval (verbatim)",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "decision", title: "Deploy to production?", description: "Build #42 passed all tests.", kind: "approval" },
        status: 200,
        check: (b: any, s: S) => {
          expect(Object.keys(b).sort()).toEqual(["decision_id", "status"]);
          expect(b).toEqual({ status: "ok", decision_id: id("dec_") });
          s.approval = b.decision_id;
        },
      },
      {
        name: "choice (verbatim)",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "decision", title: "Database?", description: "Which database for this project?", kind: "choice", options: ["PostgreSQL", "SQLite", "MongoDB"] },
        status: 200,
        expect: { status: "ok", decision_id: id("dec_") },
        save: (b, s) => (s.choice = b.decision_id),
      },
      {
        name: "question (verbatim)",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "decision", title: "Project name?", description: "What should I name the project?", kind: "question" },
        status: 200,
        expect: { status: "ok", decision_id: id("dec_") },
        save: (b, s) => (s.question = b.decision_id),
      },
      {
        name: "with conversation_id and task_run_id omitted or null",
        method: "POST",
        path: "/api/agent/events",
        body: (s: S) => ({ type: "decision", title: "Project name?", description: "What should I name the new project?", kind: "question", conversation_id: s.conv, task_run_id: null }),
        status: 200,
        save: (b, s) => (s.question2 = b.decision_id),
      },
      {
        name: "permission extras over REST too",
        method: "POST",
        path: "/api/agent/events",
        body: {
          type: "decision",
          title: "Allow: Bash(npm install stripe)",
          description: "The agent wants to run this command.",
          kind: "permission",
          allows_always: true,
          always_allow_options: [
            { pattern: "Bash(npm install *)", label: "All npm installs" },
            { pattern: "Bash(npm install stripe)", label: "This command" },
          ],
        },
        status: 200,
        save: (b, s) => (s.permission = b.decision_id),
      },
      { name: "a missing kind → 400", method: "POST", path: "/api/agent/events", body: { type: "decision", title: "T", description: "D" }, status: 400 },
      { name: "an unknown kind → 400", method: "POST", path: "/api/agent/events", body: { type: "decision", title: "T", description: "D", kind: "vote" }, status: 400 },
      {
        name: "resolve your own request (verbatim)",
        method: "POST",
        path: "/api/agent/decisions/resolve",
        body: (s: S) => ({ decision_id: s.choice, note: "User said in chat: use PostgreSQL" }),
        status: 200,
        check: (b: any, s: S) => expect(b).toEqual({ status: "resolved", decision_id: s.choice }),
      },
      { name: "resolve again → 409", method: "POST", path: "/api/agent/decisions/resolve", body: (s: S) => ({ decision_id: s.choice }), status: 409 },
      { name: "resolve a permission request → 400", method: "POST", path: "/api/agent/decisions/resolve", body: (s: S) => ({ decision_id: s.permission }), status: 400 },
      { name: "resolve another agent's request → 404", method: "POST", path: "/api/agent/decisions/resolve", as: "other", body: (s: S) => ({ decision_id: s.question }), status: 404 },
      { name: "resolve without decision_id → 400", method: "POST", path: "/api/agent/decisions/resolve", body: { note: "x" }, status: 400 },
      {
        name: "task proposal (verbatim) → {status ok, decision_id}",
        method: "POST",
        path: "/api/agent/events",
        body: { type: "task_proposal", title: "Schedule: Daily summary", task_name: "Daily summary", task_prompt: "Summarize git activity", task_schedule: "0 9 * * 1-5" },
        status: 200,
        expect: { status: "ok", decision_id: id("dec_") },
        save: (b, s) => (s.proposal = b.decision_id),
      },
      { name: "task proposal without task_schedule → 400", method: "POST", path: "/api/agent/events", body: { type: "task_proposal", title: "T", task_name: "N", task_prompt: "P" }, status: 400 },
    ]);

    test("self-resolve: status responded for people, and no event to the agent", async () => {
      const d = (await person.get(`/api/decisions/${s.choice}`)).body;
      expect(clone(d)).toMatchObject({ status: "responded", note: "User said in chat: use PostgreSQL" });
      await ws.expectNone((f) => f.type === "decision_resolved" && f.decision_id === s.choice, 200);
    });

    test("decision_resolved: approved with a note, every documented field", async () => {
      expect((await person.post(`/api/decisions/${s.approval}/respond`, { status: "approved", note: "Go ahead" })).status).toBe(200);
      const f = await ws.waitFor((f) => f.type === "decision_resolved" && f.decision_id === s.approval);
      expect(f).toEqual({
        type: "decision_resolved",
        event_id: id("evt_"),
        decision_id: s.approval,
        status: "approved",
        note: "Go ahead",
        title: "Deploy to production?",
        description: "Build #42 passed all tests.",
        created_at: isoZ(),
        conversation_id: null,
        task_run_id: null,
        always_allow: false,
        always_allow_pattern: null,
      });
    });

    test("decision_resolved: responded, with the conversation", async () => {
      await person.post(`/api/decisions/${s.question2}/respond`, { status: "responded", note: "nod-payments-api" });
      const f = await ws.waitFor((f) => f.type === "decision_resolved" && f.decision_id === s.question2);
      expect(clone(f)).toMatchObject({ status: "responded", note: "nod-payments-api", title: "Project name?", description: "What should I name the new project?", conversation_id: s.conv });
    });

    test("decision_resolved: permission, always allowed with a pattern", async () => {
      await person.post(`/api/decisions/${s.permission}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
      const f = await ws.waitFor((f) => f.type === "decision_resolved" && f.decision_id === s.permission);
      expect(clone(f)).toMatchObject({ status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
    });

    test("dismissed: the agent is not notified", async () => {
      await person.post(`/api/decisions/${s.question}/respond`, { status: "dismissed" });
      await ws.expectNone((f) => f.type === "decision_resolved" && f.decision_id === s.question, 200);
    });

    test("an approved proposal: decision_resolved carries task_id, and the task exists", async () => {
      await person.post(`/api/decisions/${s.proposal}/respond`, { status: "approved" });
      const f = await ws.waitFor((f) => f.type === "decision_resolved" && f.decision_id === s.proposal);
      expect(clone(f)).toMatchObject({ status: "approved", task_id: id("tsk_") });
      const tasks = (await client.agent.get("/api/agent/tasks")).body;
      expect(clone(tasks.find((t: any) => t.id === f.task_id))).toMatchObject({ name: "Daily summary", prompt: "Summarize git activity", schedule: "0 9 * * 1-5", trigger_type: "scheduled" });
    });
  });

  describe("activity and processing (API.md's REST replies)", () => {
    runRows([
      { name: "alert → {status ok, activity_id}", method: "POST", path: "/api/agent/events", body: { type: "alert", title: "Running: npm install stripe" }, status: 200, expect: { status: "ok", activity_id: expect.any(String) } },
      { name: "alert with text and a bad task_run_id → 404", method: "POST", path: "/api/agent/events", body: { type: "alert", title: "T", text: "x", task_run_id: "run_nope" }, status: 404 },
      { name: "alert without title → 400", method: "POST", path: "/api/agent/events", body: { type: "alert" }, status: 400 },
      { name: "processing_start → {status ok}", method: "POST", path: "/api/agent/events", body: { type: "processing_start" }, status: 200, check: (b: any) => expect(b).toEqual({ status: "ok" }) },
      { name: "processing_start with conversation and text", method: "POST", path: "/api/agent/events", body: (s: S) => ({ type: "processing_start", conversation_id: s.conv, status_text: "Reading files" }), status: 200, check: (b: any) => expect(b).toEqual({ status: "ok" }) },
      { name: "processing_stop → {status ok}", method: "POST", path: "/api/agent/events", body: (s: S) => ({ type: "processing_stop", conversation_id: s.conv }), status: 200, check: (b: any) => expect(b).toEqual({ status: "ok" }) },
    ]);
  });

  describe("004 tasks", () => {
    runRows([
      {
        name: "create (verbatim): the documented response",
        method: "POST",
        path: "/api/agent/tasks",
        body: { name: "Health check", prompt: "Run the test suite and report failures.", schedule: "0 */6 * * *" },
        status: 200,
        expect: { id: id("tsk_"), name: "Health check", schedule: "0 */6 * * *", trigger_type: "scheduled", next_run_at: "2025-09-01T18:00:00Z", enabled: true },
        save: (b, s) => (s.health = b.id),
      },
      {
        name: "an event task: trigger_id of 64 hex, schedule and trigger_type event",
        method: "POST",
        path: "/api/agent/tasks",
        body: { name: "Process push", prompt: "Analyze the push event.", schedule: "event" },
        status: 200,
        expect: { id: id("tsk_"), schedule: "event", trigger_type: "event", trigger_id: expect.stringMatching(/^[0-9a-f]{64}$/), enabled: true },
        save: (b, s) => ((s.push = b.id), (s.trigger = b.trigger_id)),
      },
      {
        name: 'a once task: trigger_type "once"',
        method: "POST",
        path: "/api/agent/tasks",
        body: { name: "Later", prompt: "Once.", schedule: "once", run_at: "2025-09-02T09:00:00Z" },
        status: 200,
        expect: { schedule: "once", trigger_type: "once", next_run_at: "2025-09-02T09:00:00Z" },
      },
      { name: "create without schedule → 400", method: "POST", path: "/api/agent/tasks", body: { name: "x", prompt: "y" }, status: 400 },
      { name: "create with a bad cron → 400", method: "POST", path: "/api/agent/tasks", body: { name: "x", prompt: "y", schedule: "every tuesday" }, status: 400 },
      {
        name: "list: the documented task objects",
        method: "GET",
        path: "/api/agent/tasks",
        status: 200,
        check: (b: any, s: S) => {
          expect(Array.isArray(b)).toBe(true);
          const health = b.find((t: any) => t.id === s.health);
          for (const k of ["id", "name", "prompt", "schedule", "trigger_type", "next_run_at", "last_run_status", "enabled"]) expect(health).toHaveProperty(k);
          expect(clone(health)).toMatchObject({ name: "Health check", prompt: "Run the test suite and report failures.", schedule: "0 */6 * * *", trigger_type: "scheduled", next_run_at: "2025-09-01T18:00:00Z", last_run_status: null, enabled: true });
          expect(clone(b.find((t: any) => t.id === s.push))).toMatchObject({ name: "Process push", prompt: "Analyze the push event.", schedule: "event", trigger_type: "event", trigger_id: s.trigger, enabled: true });
        },
      },
      { name: "another agent does not see them", method: "GET", path: "/api/agent/tasks", as: "other", status: 200, check: (b: any) => expect(b).toEqual([]) },
      {
        name: "run/start → {run_id}",
        method: "POST",
        path: (s: S) => `/api/agent/tasks/${s.health}/run/start`,
        status: 200,
        check: (b: any, s: S) => {
          expect(b).toEqual({ run_id: id("run_") });
          s.run = b.run_id;
        },
      },
      { name: "run/start of another agent's task → 404", method: "POST", path: (s: S) => `/api/agent/tasks/${s.health}/run/start`, as: "other", status: 404 },
      {
        name: "context (verbatim, run_id in the body too) → {status ok, block_id 1}",
        method: "POST",
        path: (s: S) => `/api/agent/tasks/runs/${s.run}/context`,
        body: (s: S) => ({ run_id: s.run, text: "Fetched daily goals: stand-up 9am, review PRs, ship invoice module" }),
        status: 200,
        check: (b: any) => expect(b).toEqual({ status: "ok", block_id: 1 }),
      },
      {
        name: "context without run_id in the body → block_id 2",
        method: "POST",
        path: (s: S) => `/api/agent/tasks/runs/${s.run}/context`,
        body: { text: "User selected: review PRs first" },
        status: 200,
        check: (b: any) => expect(b).toEqual({ status: "ok", block_id: 2 }),
      },
      { name: "context without text → 400", method: "POST", path: (s: S) => `/api/agent/tasks/runs/${s.run}/context`, body: {}, status: 400 },
      {
        name: "read context: {run_id, blocks} in order, with id, text, created_at",
        method: "GET",
        path: (s: S) => `/api/agent/tasks/runs/${s.run}/context`,
        status: 200,
        check: (b: any, s: S) =>
          expect(b).toEqual({
            run_id: s.run,
            blocks: [
              { id: 1, text: "Fetched daily goals: stand-up 9am, review PRs, ship invoice module", created_at: "2025-09-01T14:00:00Z" },
              { id: 2, text: "User selected: review PRs first", created_at: "2025-09-01T14:00:00Z" },
            ],
          }),
      },
      { name: "another agent's run context → 404", method: "GET", path: (s: S) => `/api/agent/tasks/runs/${s.run}/context`, as: "other", status: 404 },
      {
        name: "complete (verbatim) → {status completed, run_id}",
        method: "POST",
        path: (s: S) => `/api/agent/tasks/runs/${s.run}/complete`,
        body: { status: "completed", summary: "## Daily Summary\n\n- **12 commits** across 3 PRs\n- 2 issues closed" },
        status: 200,
        check: (b: any, s: S) => expect(b).toEqual({ status: "completed", run_id: s.run }),
      },
      {
        name: "the run object",
        method: "GET",
        path: (s: S) => `/api/agent/tasks/runs/${s.run}`,
        status: 200,
        check: (b: any, s: S) =>
          expect(clone(b)).toMatchObject({
            id: s.run,
            task_id: s.health,
            agent_id: a.id,
            status: "completed",
            summary: "## Daily Summary\n\n- **12 commits** across 3 PRs\n- 2 issues closed",
            started_at: "2025-09-01T14:00:00Z",
            finished_at: "2025-09-01T14:00:00Z",
          }),
      },
      {
        name: "context after completion: 200 {run_id, blocks: []}",
        method: "GET",
        path: (s: S) => `/api/agent/tasks/runs/${s.run}/context`,
        status: 200,
        check: (b: any, s: S) => expect(b).toEqual({ run_id: s.run, blocks: [] }),
      },
      { name: "complete twice → 409", method: "POST", path: (s: S) => `/api/agent/tasks/runs/${s.run}/complete`, body: { status: "completed" }, status: 409 },
      { name: "complete with a bad status → 400", method: "POST", path: (s: S) => `/api/agent/tasks/runs/${s.run}/complete`, body: { status: "done" }, status: 400 },
      { name: "last_run_status follows", method: "GET", path: "/api/agent/tasks", status: 200, check: (b: any, s: S) => expect(b.find((t: any) => t.id === s.health).last_run_status).toBe("completed") },
      { name: "an unknown run → 404", method: "GET", path: "/api/agent/tasks/runs/run_000000000000", status: 404 },
      // run summaries: 64 KiB (API.md lifts the hosted 1000-character limit)
      { name: "a second run", method: "POST", path: (s: S) => `/api/agent/tasks/${s.health}/run/start`, status: 200, save: (b, s) => (s.run2 = b.run_id) },
      { name: "a summary over 64 KiB → 413", method: "POST", path: (s: S) => `/api/agent/tasks/runs/${s.run2}/complete`, body: { status: "completed", summary: "x".repeat(64 * 1024 + 1) }, status: 413 },
      { name: "a summary of exactly 64 KiB is taken", method: "POST", path: (s: S) => `/api/agent/tasks/runs/${s.run2}/complete`, body: { status: "failed", summary: "x".repeat(64 * 1024) }, status: 200, check: (b: any, s: S) => expect(b).toEqual({ status: "failed", run_id: s.run2 }) },
    ]);

    test("task_run_id on a request is echoed in its decision_resolved; on an alert it links the activity entry", async () => {
      const run = (await client.agent.post(`/api/agent/tasks/${s.health}/run/start`)).body.run_id;
      const d = await client.agent.event({ type: "decision", title: "Continue?", description: "Mid-run", kind: "approval", task_run_id: run });
      expect(d.status).toBe(200);
      const al = await client.agent.event({ type: "alert", title: "Step 2", text: "half way", task_run_id: run });
      expect(al.status).toBe(200);
      await person.post(`/api/decisions/${d.body.decision_id}/respond`, { status: "rejected", note: "Stop here" });
      const f = await ws.waitFor((f) => f.type === "decision_resolved" && f.decision_id === d.body.decision_id);
      expect(clone(f)).toMatchObject({ status: "rejected", note: "Stop here", task_run_id: run });
      const acts = (await person.get(`/api/agents/${a.id}/activity`)).body;
      expect(clone(acts.find((x: any) => x.id === al.body.activity_id))).toMatchObject({ type: "agent_action", title: "Step 2", text: "half way", task_run_id: run });
      expect((await client.agent.post(`/api/agent/tasks/runs/${run}/complete`, { status: "failed" })).body).toEqual({ status: "failed", run_id: run });
    });

    test("completing a run made a task message in the chat (no separate message call)", async () => {
      const msgs = (await person.get(`/api/conversations/${s.conv}/messages`)).body;
      expect(clone(msgs.find((m: any) => m.task_run_id === s.run2))).toMatchObject({ role: "task", report_title: "Health check" });
      expect(clone(msgs.find((m: any) => m.task_run_id === s.run))).toMatchObject({ role: "task", text: "## Daily Summary\n\n- **12 commits** across 3 PRs\n- 2 issues closed" });
    });

    test("task_due (a person's run now): every documented field; /tasks/due lists it with run_id", async () => {
      const r = await person.post(`/api/tasks/${s.health}/run`);
      expect(r.status).toBe(201);
      const f = await ws.waitFor((f) => f.type === "task_due" && f.run_id === r.body.run_id);
      expect(f).toEqual({
        type: "task_due",
        event_id: id("evt_"),
        task_id: s.health,
        run_id: r.body.run_id,
        task_name: "Health check",
        task_prompt: "Run the test suite and report failures.",
        schedule: "0 */6 * * *",
      });
      const due = (await client.agent.get("/api/agent/tasks/due")).body;
      expect(Array.isArray(due)).toBe(true);
      expect(clone(due.find((d: any) => d.run_id === r.body.run_id))).toMatchObject({
        id: s.health,
        name: "Health check",
        prompt: "Run the test suite and report failures.",
        schedule: "0 */6 * * *",
        trigger_type: "scheduled",
        enabled: true,
        run_id: r.body.run_id,
      });
      // run/start takes that very run; it leaves /due
      expect((await client.agent.post(`/api/agent/tasks/${s.health}/run/start`)).body).toEqual({ run_id: r.body.run_id });
      expect((await client.agent.get("/api/agent/tasks/due")).body.find((d: any) => d.run_id === r.body.run_id)).toBeUndefined();
    });
  });

  describe("inbound POST /webhook/{trigger_id}", () => {
    const push = { ref: "refs/heads/main", commits: [{ message: "Fix login bug" }] };
    runRows([
      {
        name: "no agent headers; 202 {status accepted, run_id}",
        method: "POST",
        path: (s: S) => `/webhook/${s.trigger}`,
        as: "none",
        body: push,
        status: 202,
        check: (b: any, s: S) => {
          expect(b).toEqual({ status: "accepted", run_id: id("run_") });
          s.triggerRun = b.run_id;
        },
      },
    ]);

    // Before the agent polls: listing a pending trigger counts as receiving it, and
    // then it is not pushed any more (on PostgreSQL the push can come after the poll).
    test("task_trigger over the socket: every documented field", async () => {
      const f = await ws.waitFor((f) => f.type === "task_trigger" && f.run_id === s.triggerRun);
      expect(f).toEqual({ type: "task_trigger", event_id: id("evt_"), task_id: s.push, run_id: s.triggerRun, task_name: "Process push", task_prompt: "Analyze the push event.", payload: push });
    });

    runRows([
      {
        name: "pending triggers: the documented item",
        method: "GET",
        path: "/api/agent/tasks/triggers/pending",
        status: 200,
        check: (b: any, s: S) => {
          expect(Array.isArray(b)).toBe(true);
          expect(b.find((p: any) => p.run_id === s.triggerRun)).toEqual({
            id: id("evt_"),
            task_id: s.push,
            task_name: "Process push",
            task_prompt: "Analyze the push event.",
            payload: push,
            run_id: s.triggerRun,
            received_at: "2025-09-01T14:00:00Z",
          });
        },
      },
      { name: "a JSON array body is the payload as is", method: "POST", path: (s: S) => `/webhook/${s.trigger}`, as: "none", body: [1, 2], status: 202 },
      { name: "a non-JSON body: 202", method: "POST", path: (s: S) => `/webhook/${s.trigger}`, as: "none", raw: { text: "deploy finished", type: "text/plain" }, status: 202 },
      { name: "an unknown trigger → 404", method: "POST", path: "/webhook/" + "0".repeat(64), as: "none", body: push, status: 404 },
      { name: "a body over 1 MiB → 413", method: "POST", path: (s: S) => `/webhook/${s.trigger}`, as: "none", raw: { text: "x".repeat(1024 * 1024 + 1), type: "text/plain" }, status: 413 },
    ]);

    test("a disabled event task → 409", async () => {
      expect((await person.patch(`/api/tasks/${s.push}`, { enabled: false })).status).toBe(200);
      const r = await request(server.url, "POST", `/webhook/${s.trigger}`, { body: push });
      expect(r.status).toBe(409);
      expect(r.body).toEqual({ detail: expect.any(String) });
    });
  });

  describe("user_message", () => {
    test("over the socket: the documented fields; media fields present and null", async () => {
      const r = await person.post(`/api/agents/${a.id}/messages`, { text: "Hi there" });
      expect(r.status).toBe(201);
      const f = await ws.waitFor((f) => f.type === "user_message" && f.message_id === r.body.message_id);
      expect(clone(f)).toMatchObject({
        type: "user_message",
        event_id: id("evt_"),
        text: "Hi there",
        sender_name: "alice",
        conversation_id: s.conv,
        message_id: id("msg_"),
        image_url: null,
        image_urls: null,
        audio_url: null,
      });
    });

    test("to the webhook_url when there is no socket: the event unwrapped, with the X-Nod headers", async () => {
      const r = await person.post(`/api/agents/${wh.id}/messages`, { text: "Are you there?" });
      const [got] = await hook.waitFor(1);
      expect(clone(got!.json)).toMatchObject({ type: "user_message", text: "Are you there?", sender_name: "alice", message_id: r.body.message_id, image_url: null, image_urls: null, audio_url: null });
      expect(clone(got!.headers)).toMatchObject({
        "content-type": expect.stringContaining("application/json"),
        "x-nod-event-id": expect.stringMatching(/^evt_[0-9a-f]+$/),
        "x-nod-delivery-id": expect.stringMatching(/^dlv_[0-9a-f]+$/),
        "x-nod-timestamp": expect.stringMatching(/^\d+$/),
        "x-nod-retry-num": "0",
        "x-nod-retry-reason": "first_attempt",
        "x-nod-signature": expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
      });
      expect(got!.headers["x-nod-event-id"]).toBe(got!.json.event_id);
    });
  });

  describe("WebSocket frames", () => {
    type WsRow = { name: string; frame: Val<Frame>; reply: Val<Frame> };
    const rows: WsRow[] = [
      { name: "message → ack with the REST fields", frame: { type: "message", text: "Hello!" }, reply: { type: "ack", status: "ok", message_id: id("msg_"), conversation_id: id("conv_") } },
      {
        name: "a report with task_run_id",
        frame: (s: S) => ({ type: "message", text: "# Report", report_title: "Weekly report", report_description: "Sales and costs", conversation_id: s.conv }),
        reply: { type: "ack", status: "ok", message_id: id("msg_") },
      },
      {
        name: "decision (verbatim, with the agent's conversation)",
        frame: (s: S) => ({ type: "decision", title: "Deploy to production?", description: "Build #42 passed all tests.", kind: "approval", conversation_id: s.conv }),
        reply: { type: "ack", status: "ok", decision_id: id("dec_") },
      },
      {
        name: "permission decision (verbatim)",
        frame: (s: S) => ({
          type: "decision",
          title: "Allow: Bash(npm install stripe)",
          description: "The agent wants to run this command.",
          kind: "permission",
          allows_always: true,
          always_allow_options: [
            { pattern: "Bash(npm install *)", label: "All npm installs" },
            { pattern: "Bash(npm install stripe)", label: "This command" },
          ],
          conversation_id: s.conv,
        }),
        reply: { type: "ack", status: "ok", decision_id: id("dec_") },
      },
      { name: "alert", frame: { type: "alert", title: "Running: npm install stripe", text: "in /app" }, reply: { type: "ack", status: "ok", activity_id: expect.any(String) } },
      {
        name: "task_proposal",
        frame: { type: "task_proposal", title: "Schedule: Daily summary", task_name: "Daily summary", task_prompt: "Summarize git activity", task_schedule: "0 9 * * 1-5" },
        reply: { type: "ack", status: "ok", decision_id: id("dec_") },
      },
      { name: "processing_start", frame: { type: "processing_start", status_text: "Thinking" }, reply: { type: "ack", status: "ok" } },
      { name: "processing_stop", frame: { type: "processing_stop" }, reply: { type: "ack", status: "ok" } },
      { name: "agent_heartbeat", frame: (s: S) => ({ type: "agent_heartbeat", conversation_id: s.conv, status_text: "Reading files" }), reply: { type: "ack", status: "ok" } },
      { name: "agent_idle", frame: (s: S) => ({ type: "agent_idle", conversation_id: s.conv }), reply: { type: "ack", status: "ok" } },
      { name: "status → a system activity entry", frame: { type: "status", action: "started", details: "v1.2" }, reply: { type: "ack", status: "ok", activity_id: expect.any(String) } },
      { name: "an unknown type → error, socket stays open", frame: { type: "nonsense" }, reply: { type: "error", detail: expect.any(String) } },
      { name: "a decision missing its kind → error", frame: { type: "decision", title: "T", description: "D" }, reply: { type: "error", detail: expect.stringContaining("kind") } },
    ];
    for (const row of rows) {
      test(`${row.name} (request_id echoed)`, async () => {
        const reply = await ws.request(val(row.frame, s));
        expect(clone(reply)).toMatchObject({ ...val(row.reply, s), request_id: expect.stringMatching(/^r\d+$/) });
        expect(ws.ws.readyState).toBe(WebSocket.OPEN);
      });
    }

    test("ping → pong, request_id echoed", async () => {
      ws.send({ type: "ping", request_id: "p-1" });
      expect(await ws.waitFor((f) => f.type === "pong" && f.request_id === "p-1")).toEqual({ type: "pong", request_id: "p-1" });
    });

    test("ping without request_id → exactly {type: pong}", async () => {
      ws.send({ type: "ping" });
      expect(await ws.waitFor((f) => f.type === "pong" && !("request_id" in f))).toEqual({ type: "pong" });
    });

    test("invalid JSON → an error frame; the socket stays open", async () => {
      ws.send("{not json");
      expect(clone(await ws.waitFor("error"))).toMatchObject({ type: "error", detail: expect.any(String) });
      expect((await ws.request({ type: "alert", title: "still here" })).type).toBe("ack");
    });

    test("the status frame is a system activity entry with its action and details", async () => {
      const acts = (await person.get(`/api/agents/${a.id}/activity`)).body;
      expect(clone(acts.find((x: any) => x.type === "system" && x.title.includes("started")))).toMatchObject({ text: "v1.2" });
    });
  });

  describe("WebSocket handshake", () => {
    test("auth (verbatim) → auth_ok {session_id sess_…, agent_name}", () => {
      expect(ws.authOk).toEqual({ type: "auth_ok", session_id: expect.stringMatching(/^sess_[0-9a-f]+$/), agent_name: "My Agent" });
    });

    const refusals: [string, (agentId: string) => string | Frame, number, string?][] = [
      ["first frame not JSON → 4001", () => "hello", 4001],
      ["first frame JSON but not auth → 4001", () => ({ type: "ping" }), 4001],
      ["invalid secret → 4003", (agentId) => ({ type: "auth", agent_id: agentId, secret: "nod_" + "0".repeat(40) }), 4003],
      ["an empty secret is an invalid secret → 4003", (agentId) => ({ type: "auth", agent_id: agentId, secret: "" }), 4003],
      ["no secret at all: not a valid auth message → 4001", (agentId) => ({ type: "auth", agent_id: agentId }), 4001],
      ["agent id not found → 4004", () => ({ type: "auth", agent_id: "agt_0000000000000000", secret: a.secret }), 4004, "agt_0000000000000000"],
    ];
    for (const [name, frame, code, path] of refusals) {
      test(name, async () => {
        const sock = await openAgentSocket(server, path ?? a.id);
        sock.send(frame(path ?? a.id));
        expect((await sock.closed).code).toBe(code);
      });
    }

    test("no auth frame within the limit (10 s) → 4001", async () => {
      expect(AGENT_WS.authTimeoutMs).toBe(10_000);
      AGENT_WS.authTimeoutMs = 150;
      try {
        const sock = await openAgentSocket(server, a.id);
        expect((await sock.closed).code).toBe(4001);
      } finally {
        AGENT_WS.authTimeoutMs = 10_000;
      }
    });
  });

  describe("the documents' requests show no Content-Type: JSON bodies are read as JSON whatever it says", () => {
    // fetch() with a string body sends text/plain, curl -d and Python's urllib send a form type.
    for (const type of ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]) {
      const raw = (body: Val<object>) => ({ text: (s: S) => JSON.stringify(val(body, s)), type });
      runRows([
        { name: `create a task (${type})`, method: "POST", path: "/api/agent/tasks", raw: raw({ name: "Process push", prompt: "Analyze the push event.", schedule: "event" }), status: 200, expect: { trigger_type: "event" }, save: (b, s) => ((s.plainTask = b.id), (s.plainTrigger = b.trigger_id)) },
        { name: `a question (${type})`, method: "POST", path: "/api/agent/events", raw: raw({ type: "decision", title: "Project name?", description: "What should I name the project?", kind: "question" }), status: 200, save: (b, s) => (s.plainDec = b.decision_id) },
        { name: `resolve it (${type})`, method: "POST", path: "/api/agent/decisions/resolve", raw: raw((s: S) => ({ decision_id: s.plainDec, note: "nod" })), status: 200, expect: { status: "resolved" } },
        { name: `start a run`, method: "POST", path: (s: S) => `/api/agent/tasks/${s.plainTask}/run/start`, status: 200, save: (b, s) => (s.plainRun = b.run_id) },
        { name: `context (${type})`, method: "POST", path: (s: S) => `/api/agent/tasks/runs/${s.plainRun}/context`, raw: raw({ text: "step 1" }), status: 200, expect: { status: "ok", block_id: 1 } },
        { name: `complete (${type})`, method: "POST", path: (s: S) => `/api/agent/tasks/runs/${s.plainRun}/complete`, raw: raw({ status: "completed", summary: "done" }), status: 200, expect: { status: "completed" } },
        { name: `a webhook call with a JSON body (${type})`, method: "POST", path: (s: S) => `/webhook/${s.plainTrigger}`, as: "none", raw: raw({ action: "push", ref: "refs/heads/main" }), status: 202, save: (b, s) => (s.plainTriggerRun = b.run_id) },
        {
          name: "…its payload is the JSON object",
          method: "GET",
          path: "/api/agent/tasks/triggers/pending",
          status: 200,
          check: (b: any, s: S) => expect(b.find((p: any) => p.run_id === s.plainTriggerRun)?.payload).toEqual({ action: "push", ref: "refs/heads/main" }),
        },
      ]);
    }
  });

  test("every frame the agent's socket received: Z times, prefixed ids, a known type", () => {
    expect(ws.frames.length).toBeGreaterThan(20);
    for (const f of ws.frames) {
      expect(["auth_ok", "ack", "error", "pong", "user_message", "decision_resolved", "task_due", "task_trigger"]).toContain(f.type);
      checkEverywhere(f, f.type);
    }
  });

  describe("errors are {detail} with the documented codes", () => {
    runRows([
      { name: "the health check needs no auth", method: "GET", path: "/healthz", as: "none", status: 200, check: (b: any) => expect(b).toEqual({ status: "ok" }) },
    ]);
    test("invalid JSON from an authenticated agent → 400", async () => {
      const r = await request(server.url, "POST", "/api/agent/events", { raw: "{", headers: { "content-type": "application/json", "x-nod-agent-id": a.id, "x-nod-secret": a.secret } });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ detail: expect.any(String) });
    });
    test("curl -d without a Content-Type (form-encoded) still reads the JSON event", async () => {
      const r = await request(server.url, "POST", "/api/agent/events", {
        raw: '{"type":"message","text":"Hello!"}',
        headers: { "content-type": "application/x-www-form-urlencoded", "x-nod-agent-id": a.id, "x-nod-secret": a.secret },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(clone(r.body)).toMatchObject({ status: "ok", message_id: id("msg_") });
    });
  });
});
