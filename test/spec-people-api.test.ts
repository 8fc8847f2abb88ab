// API.md's people side, row by row: every route's status code and body shape,
// paging, and the "Everywhere" rules checked on every JSON body the rows get
// back (times ISO 8601 UTC with Z, id prefixes, lists as plain arrays).
// What test/auth, agents, people-inbox and tasks-people already cover in depth
// is only touched here as far as the tables say.
import { describe, expect, test } from "bun:test";
import { parseDuration } from "../server/lib/time.ts";
import { AgentClient, Person, request, startTestServer, type Res } from "./helpers.ts";
import { checkEverywhere, ISO_Z } from "./conventions.ts";
import { upgradeStatus } from "./ws-helpers.ts";
import { runNod } from "./cli-util.ts";



type S = Record<string, any>;
interface Row {
  name: string;
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string | ((s: S) => string);
  body?: object | ((s: S) => object);
  /** who: the signed-in owner (default) or nobody */
  anon?: boolean;
  status: number;
  /** the body is a plain JSON array */
  list?: boolean;
  /** keys the body (or each item of a list) must have */
  keys?: string[];
  /** keys it must not have */
  without?: string[];
  check?: (body: any, s: S, res: Res) => void;
}

describe("API.md: the people side", async () => {
  const server = await startTestServer();
  const person = new Person(server.url);
  const s: S = {};

  function runRows(rows: Row[]) {
    for (const row of rows) {
      test(`${row.method} ${typeof row.path === "string" ? row.path : "…"} — ${row.name}`, async () => {
        const path = typeof row.path === "function" ? row.path(s) : row.path;
        const body = typeof row.body === "function" ? row.body(s) : row.body;
        const res = row.anon ? await request(server.url, row.method, path, body === undefined ? {} : { body }) : await person.call(row.method, path, body);
        expect(res.status, JSON.stringify(res.body)).toBe(row.status);
        if (row.status === 204) expect(res.body).toBeNull();
        else expect(res.headers.get("content-type") ?? "").toContain("application/json");
        if (row.status >= 400) expect(res.body).toEqual({ detail: expect.any(String) });
        checkEverywhere(res.body);
        if (row.list) expect(Array.isArray(res.body)).toBe(true);
        const items = row.list ? res.body : [res.body];
        for (const item of items) {
          for (const k of row.keys ?? []) expect(item, `${k} in ${JSON.stringify(item)}`).toHaveProperty(k);
          for (const k of row.without ?? []) expect(item).not.toHaveProperty(k);
        }
        row.check?.(res.body, s, res);
      });
    }
  }

  describe("health and accounts", () => {
    runRows([
      { name: "health without auth", method: "GET", path: "/healthz", anon: true, status: 200, check: (b) => expect(b).toEqual({ status: "ok" }) },
      { name: "a fresh server asks for setup", method: "GET", path: "/api/auth/status", anon: true, status: 200, check: (b) => expect(b).toEqual({ setup_required: true, user: null }) },
      {
        name: "setup: 201 {user}, signed in",
        method: "POST",
        path: "/api/auth/setup",
        body: { username: "alice", password: "correct horse battery" },
        status: 201,
        check: (b, _s, res) => {
          expect(b).toEqual({ user: { id: expect.stringMatching(/^usr_/), username: "alice", created_at: expect.stringMatching(ISO_Z) } });
          expect(res.headers.get("set-cookie")).toMatch(/HttpOnly/i);
          expect(res.headers.get("set-cookie")).toMatch(/SameSite=Lax/i);
        },
      },
      { name: "setup again → 409", method: "POST", path: "/api/auth/setup", anon: true, body: { username: "bob", password: "correct horse battery" }, status: 409 },
      { name: "status while signed in", method: "GET", path: "/api/auth/status", status: 200, check: (b) => expect(b).toMatchObject({ setup_required: false, user: { username: "alice" } }) },
      { name: "login: wrong password → 401", method: "POST", path: "/api/auth/login", anon: true, body: { username: "alice", password: "wrong password!" }, status: 401 },
      { name: "login: 200 with a cookie", method: "POST", path: "/api/auth/login", body: { username: "alice", password: "correct horse battery" }, status: 200, check: (_b, _s, res) => expect(res.headers.get("set-cookie")).toMatch(/^nod_session=/) },
    ]);
  });

  describe("agents", () => {
    runRows([
      {
        name: "create: 201 with id, secret (once) and webhook_secret",
        method: "POST",
        path: "/api/agents",
        body: { name: "Deploy Bot", avatar: "robot", webhook_url: "https://my-server.com/nod-events" },
        status: 201,
        keys: ["id", "name", "avatar", "type", "webhook_url", "secret", "webhook_secret"],
        check: (b, s) => {
          expect(b).toMatchObject({ name: "Deploy Bot", avatar: "robot", type: "interactive", webhook_url: "https://my-server.com/nod-events" });
          expect(b.id).toMatch(/^agt_[0-9a-f]{16}$/);
          expect(b.secret).toMatch(/^nod_[0-9a-f]{40}$/);
          expect(b.webhook_secret).toMatch(/^whsec_[0-9a-f]{32,}$/);
          s.agent = b;
        },
      },
      { name: "create approval_only", method: "POST", path: "/api/agents", body: { name: "Gate", type: "approval_only" }, status: 201, check: (b, s) => ((s.gate = b), expect(b.type).toBe("approval_only")) },
      { name: "create: a bad type → 400", method: "POST", path: "/api/agents", body: { name: "X", type: "robot" }, status: 400 },
      { name: "create: no name → 400", method: "POST", path: "/api/agents", body: {}, status: 400 },
      { name: "list: never a secret", method: "GET", path: "/api/agents", status: 200, list: true, keys: ["id", "name", "avatar", "type", "webhook_url", "online"], without: ["secret", "webhook_secret"] },
      { name: "one agent: same shape plus webhook_secret, no secret", method: "GET", path: (s) => `/api/agents/${s.agent.id}`, status: 200, keys: ["id", "name", "avatar", "type", "webhook_url", "online", "webhook_secret"], without: ["secret"] },
      { name: "unknown agent → 404", method: "GET", path: "/api/agents/agt_0000000000000000", status: 404 },
      {
        name: "update: the updated agent",
        method: "PATCH",
        path: (s) => `/api/agents/${s.agent.id}`,
        body: { name: "Deploy Bot 2", webhook_url: null },
        status: 200,
        check: (b) => expect(b).toMatchObject({ name: "Deploy Bot 2", webhook_url: null, type: "interactive" }),
      },
      {
        name: "new secret: {secret}; the old one stops working",
        method: "POST",
        path: (s) => `/api/agents/${s.agent.id}/secret`,
        status: 200,
        check: (b, s) => {
          expect(Object.keys(b)).toEqual(["secret"]);
          expect(b.secret).toMatch(/^nod_[0-9a-f]{40}$/);
          s.oldSecret = s.agent.secret;
          s.agent.secret = b.secret;
        },
      },
    ]);
    test("the rotated secret works, the old one gets 401", async () => {
      expect((await new AgentClient(server.url, s.agent.id, s.oldSecret).get("/api/agent/tasks")).status).toBe(401);
      expect((await new AgentClient(server.url, s.agent.id, s.agent.secret).get("/api/agent/tasks")).status).toBe(200);
    });
  });

  describe("conversations, messages, requests, activity", () => {
    const agent = () => new AgentClient(server.url, s.agent.id, s.agent.secret);
    // Setup for the rows below, checked so a failure here is not blamed on them.
    test("the agent writes, asks and alerts: each event is accepted with its ids", async () => {
      const msg = await agent().event({ type: "message", text: "Build is green", report_title: "Build", report_description: "CI" });
      expect(msg.status).toBe(200);
      expect(msg.body).toEqual({ status: "ok", message_id: expect.stringMatching(/^msg_/), conversation_id: expect.stringMatching(/^conv_/) });
      s.agentMsg = msg.body;
      s.conv = s.agentMsg.conversation_id;
      const dec = await agent().event({ type: "decision", title: "Deploy?", description: "Build #42", kind: "choice", options: ["now", "later"] });
      expect(dec.status).toBe(200);
      expect(dec.body).toEqual({ status: "ok", decision_id: expect.stringMatching(/^dec_/) });
      s.dec = dec.body.decision_id;
      const alert = await agent().event({ type: "alert", title: "Running: npm test", text: "in /app" });
      expect(alert.status).toBe(200);
      expect(alert.body).toEqual({ status: "ok", activity_id: expect.stringMatching(/^act_/) });
    });
    runRows([
      {
        name: "conversations: id, title, updated_at",
        method: "GET",
        path: (s) => `/api/agents/${s.agent.id}/conversations`,
        status: 200,
        list: true,
        keys: ["id", "title", "updated_at"],
        check: (b, s) => expect(b[0].id).toBe(s.conv),
      },
      {
        name: "send a message: 201 {message_id, conversation_id}",
        method: "POST",
        path: (s) => `/api/agents/${s.agent.id}/messages`,
        body: (s) => ({ text: "Thanks!", conversation_id: s.conv }),
        status: 201,
        check: (b, s) => {
          expect(Object.keys(b).sort()).toEqual(["conversation_id", "message_id"]);
          expect(b.conversation_id).toBe(s.conv);
        },
      },
      { name: "to an approval-only agent → 403", method: "POST", path: (s) => `/api/agents/${s.gate.id}/messages`, body: { text: "hi" }, status: 403 },
      {
        name: "messages oldest first; the message object's fields",
        method: "GET",
        path: (s) => `/api/conversations/${s.conv}/messages`,
        status: 200,
        list: true,
        keys: ["id", "conversation_id", "role", "text", "image_url", "report_title", "report_description", "task_run_id", "created_at"],
        check: (b, s) => {
          expect(b.map((m: any) => m.role)).toEqual(["agent", "user"]);
          expect(b[0]).toMatchObject({ id: s.agentMsg.message_id, text: "Build is green", image_url: null, report_title: "Build", report_description: "CI", task_run_id: null });
          expect(b[1]).toMatchObject({ text: "Thanks!", image_url: null, report_title: null, report_description: null, task_run_id: null });
        },
      },
      {
        name: "requests: the decision fields, pending",
        method: "GET",
        path: "/api/decisions?status=pending",
        status: 200,
        list: true,
        keys: ["id", "agent_id", "kind", "title", "description", "options", "status"],
        check: (b, s) => expect(b.find((d: any) => d.id === s.dec)).toMatchObject({ agent_id: s.agent.id, kind: "choice", options: ["now", "later"], status: "pending" }),
      },
      { name: "respond: a status that does not fit the kind → 400", method: "POST", path: (s) => `/api/decisions/${s.dec}/respond`, body: { status: "approved" }, status: 400 },
      { name: "respond: an unknown status → 400", method: "POST", path: (s) => `/api/decisions/${s.dec}/respond`, body: { status: "maybe" }, status: 400 },
      {
        name: "respond: 200 the decision, with the status it was answered with",
        method: "POST",
        path: (s) => `/api/decisions/${s.dec}/respond`,
        body: { status: "responded", note: "now" },
        status: 200,
        keys: ["id", "agent_id", "kind", "title", "description", "options", "status"],
        check: (b, s) => expect(b).toMatchObject({ id: s.dec, status: "responded", note: "now" }),
      },
      { name: "respond twice → 409", method: "POST", path: (s) => `/api/decisions/${s.dec}/respond`, body: { status: "dismissed" }, status: 409 },
      { name: "respond to an unknown request → 404", method: "POST", path: "/api/decisions/dec_000000000000/respond", body: { status: "dismissed" }, status: 404 },
      { name: "resolved requests", method: "GET", path: (s) => `/api/decisions?status=resolved&agent_id=${s.agent.id}`, status: 200, list: true, check: (b, s) => expect(b.map((d: any) => d.id)).toEqual([s.dec]) },
      {
        name: "activity: entries newest first, with the documented fields and types",
        method: "GET",
        path: (s) => `/api/agents/${s.agent.id}/activity`,
        status: 200,
        list: true,
        keys: ["id", "agent_id", "type", "title", "text", "task_run_id", "created_at"],
        check: (b) => {
          const types = b.map((a: any) => a.type);
          for (const t of types) expect(["decision_created", "decision_resolved", "agent_message", "agent_action", "system"]).toContain(t);
          expect(types).toEqual(["decision_resolved", "agent_action", "decision_created", "agent_message"]);
          expect(b[1]).toMatchObject({ title: "Running: npm test", text: "in /app", task_run_id: null });
        },
      },
    ]);
  });

  describe("tasks", () => {
    runRows([
      {
        name: "create: 201 the task",
        method: "POST",
        path: (s) => `/api/agents/${s.agent.id}/tasks`,
        body: { name: "Process push", prompt: "Analyze the push event.", schedule: "event" },
        status: 201,
        keys: ["id", "agent_id", "name", "prompt", "schedule", "trigger_type", "enabled", "next_run_at", "last_run_status", "trigger_url"],
        check: (b, s) => {
          s.task = b;
          expect(b.trigger_url).toBe(`${server.ctx.config.publicUrl}/webhook/${b.trigger_id}`);
        },
      },
      { name: "create with a time zone", method: "POST", path: (s) => `/api/agents/${s.agent.id}/tasks`, body: { name: "Standup", prompt: "P", schedule: "0 9 * * 1-5", timezone: "Europe/Berlin" }, status: 201, check: (b, s) => ((s.cron = b), expect(b.trigger_type).toBe("scheduled")) },
      { name: "create once: trigger_type once", method: "POST", path: (s) => `/api/agents/${s.agent.id}/tasks`, body: { name: "Once", prompt: "P", schedule: "once" }, status: 201, check: (b) => expect(b.trigger_type).toBe("once") },
      { name: "list ?agent_id=", method: "GET", path: (s) => `/api/tasks?agent_id=${s.agent.id}`, status: 200, list: true, keys: ["id", "agent_id", "name", "prompt", "schedule", "trigger_type", "enabled", "next_run_at", "last_run_status"] },
      { name: "update: the task", method: "PATCH", path: (s) => `/api/tasks/${s.cron.id}`, body: { enabled: false, name: "Standup (paused)" }, status: 200, check: (b) => expect(b).toMatchObject({ enabled: false, name: "Standup (paused)" }) },
      { name: "run now: 201 {run_id}", method: "POST", path: (s) => `/api/tasks/${s.task.id}/run`, status: 201, check: (b, s) => ((s.run = b.run_id), expect(Object.keys(b)).toEqual(["run_id"])) },
      {
        name: "runs newest first: id, status, summary, started_at, finished_at",
        method: "GET",
        path: (s) => `/api/tasks/${s.task.id}/runs`,
        status: 200,
        list: true,
        keys: ["id", "status", "summary", "started_at", "finished_at"],
        check: (b, s) => expect(b[0]).toMatchObject({ id: s.run, status: "due", summary: null }),
      },
      { name: "delete: 204", method: "DELETE", path: (s) => `/api/tasks/${s.cron.id}`, status: 204 },
      { name: "deleted → 404", method: "GET", path: (s) => `/api/tasks/${s.cron.id}`, status: 404 },
    ]);
  });

  describe("paging: ?limit default 50, at most 200, ?before", () => {
    // Setup for the rows below, checked so a failure here is not blamed on them.
    test("61 requests (61 activity entries) and 61 messages are accepted, each with its own id", async () => {
      const a = new AgentClient(server.url, s.gate.id, s.gate.secret);
      s.gateDec = [];
      for (let i = 0; i < 61; i++) {
        const r = await a.event({ type: "decision", title: `Q${i}`, description: "", kind: "approval" });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        s.gateDec.push(r.body.decision_id);
      }
      const b = new AgentClient(server.url, s.agent.id, s.agent.secret);
      const msgs: string[] = [];
      for (let i = 0; i < 61; i++) {
        const r = await b.event({ type: "message", text: `m${i}`, conversation_id: s.conv });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.conversation_id).toBe(s.conv);
        msgs.push(r.body.message_id);
      }
      for (const ids of [s.gateDec, msgs]) expect(new Set(ids).size).toBe(61);
    });
    runRows([
      { name: "messages: 50 by default, the newest, oldest first", method: "GET", path: (s) => `/api/conversations/${s.conv}/messages`, status: 200, list: true, check: (b) => (expect(b).toHaveLength(50), expect(b.at(-1).text).toBe("m60"), expect(b[0].text).toBe("m11")) },
      { name: "messages: ?limit=200", method: "GET", path: (s) => `/api/conversations/${s.conv}/messages?limit=200`, status: 200, list: true, check: (b) => expect(b).toHaveLength(63) },
      { name: "messages: ?limit=201 → 400", method: "GET", path: (s) => `/api/conversations/${s.conv}/messages?limit=201`, status: 400 },
      { name: "activity: 50 by default, newest first", method: "GET", path: (s) => `/api/agents/${s.gate.id}/activity`, status: 200, list: true, check: (b) => (expect(b).toHaveLength(50), expect(b[0].title).toContain("Q60")) },
      {
        name: "activity: ?before=ID gives the older ones",
        method: "GET",
        path: (s) => `/api/agents/${s.gate.id}/activity?limit=5`,
        status: 200,
        list: true,
        check: (b, s) => ((s.act5 = b), expect(b).toHaveLength(5)),
      },
      {
        name: "…the next page",
        method: "GET",
        path: (s) => `/api/agents/${s.gate.id}/activity?limit=5&before=${s.act5.at(-1).id}`,
        status: 200,
        list: true,
        check: (b, s) => {
          expect(b[0].title).toContain("Q55");
          expect(b[0].id < s.act5.at(-1).id).toBe(true);
        },
      },
      { name: "activity: ?limit=0 → 400", method: "GET", path: (s) => `/api/agents/${s.gate.id}/activity?limit=0`, status: 400 },
      { name: "requests: 50 by default", method: "GET", path: (s) => `/api/decisions?agent_id=${s.gate.id}`, status: 200, list: true, check: (b) => expect(b).toHaveLength(50) },
      { name: "requests: ?before", method: "GET", path: (s) => `/api/decisions?agent_id=${s.gate.id}&before=${s.gateDec[1]}`, status: 200, list: true, check: (b, s) => expect(b.map((d: any) => d.id)).toEqual([s.gateDec[0]]) },
      { name: "requests: ?limit=200", method: "GET", path: (s) => `/api/decisions?agent_id=${s.gate.id}&limit=200`, status: 200, list: true, check: (b) => expect(b).toHaveLength(61) },
    ]);
  });

  describe("sessions end", () => {
    runRows([
      { name: "every people route needs a person: 401", method: "GET", path: "/api/tasks", anon: true, status: 401 },
      { name: "delete an agent: 204", method: "DELETE", path: (s) => `/api/agents/${s.gate.id}`, status: 204 },
      { name: "its credentials stop at once", method: "GET", path: "/api/agent/tasks", anon: true, status: 401 },
      { name: "logout: 204", method: "POST", path: "/api/auth/logout", status: 204, check: (_b, _s, res) => expect(res.headers.get("set-cookie")).toMatch(/Max-Age=0/) },
      { name: "signed out → 401", method: "GET", path: "/api/agents", status: 401 },
    ]);
    test("/ws/app without a session: the upgrade is refused with 401", async () => {
      expect((await upgradeStatus(server, "/ws/app")).status).toBe(401);
    });
  });

  test("/docs/json tells each route's success code as it is: 201 creates, 204 deletes, 202 the trigger", async () => {
    const doc: any = await (await fetch(server.url + "/docs/json")).json();
    const codes: [string, string, string][] = [
      ["post", "/api/auth/setup", "201"],
      ["post", "/api/auth/logout", "204"],
      ["post", "/api/agents", "201"],
      ["delete", "/api/agents/{id}", "204"],
      ["post", "/api/agents/{id}/messages", "201"],
      ["post", "/api/conversations/{id}/read", "204"],
      ["post", "/api/agents/{id}/tasks", "201"],
      ["delete", "/api/tasks/{id}", "204"],
      ["post", "/api/tasks/{id}/run", "201"],
      ["post", "/webhook/{trigger_id}", "202"],
      ["post", "/api/agent/tasks", "200"],
      ["post", "/api/agent/events", "200"],
    ];
    for (const [method, path, code] of codes) {
      const responses = Object.keys(doc.paths[path]?.[method]?.responses ?? {});
      expect(responses.filter((c) => c.startsWith("2")), `${method} ${path}`).toEqual([code]);
    }
  });

  test("Command line: nod --version prints the same nod <semver> (<commit>)", async () => {
    const [a, b] = await Promise.all([runNod(["--version"]), runNod(["version"])]);
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toMatch(/^nod \d+\.\d+\.\d+(-[0-9A-Za-z.-]+)? \([0-9a-z]+\)\n$/);
    expect(a.stdout).toBe(b.stdout);
  });

  test("Command line: a duration that is not 30s/10m/1h is bad usage (exit 2), by flag or env", async () => {
    const [flag, env] = await Promise.all([
      runNod(["serve", "--run-timeout", "soon", "--port", "0"]),
      runNod(["serve", "--port", "0"], { env: { NOD_WEBHOOK_RETRY_BASE: "fast" } }),
    ]);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toContain("30s, 10m or 1h");
    expect(env.exitCode).toBe(2);
  });

  test("Command line: durations are written 30s, 10m, 1h", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("soon")).toBeNull();
  });
});
