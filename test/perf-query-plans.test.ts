// Flat cost as data grows: every list and count the server runs reads through
// an index (SQLite's EXPLAIN QUERY PLAN says SEARCH, or SCAN … USING INDEX),
// never a whole big table; unread counts and marking read stay one row each;
// GET /api/agents pages; the run-timeout sweep reads only stale runs.
//
// The statements are not listed here by hand: every statement the server
// prepares while this file drives it (people's lists, the agent API, the
// sockets, delivery, the scheduler and the sweep) is recorded and explained.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(60_000); // each test starts a server (a hang guard, not a time check)

// Recorded before the server exists: statements are prepared once and kept.
const seen = new Set<string>();
type Method = (this: Database, sql: string, ...rest: unknown[]) => unknown;
const proto = Database.prototype as unknown as Record<"prepare" | "query", Method>;
const originals = { prepare: proto.prepare, query: proto.query };
for (const m of ["prepare", "query"] as const) {
  const orig = originals[m];
  proto[m] = function (sql: string, ...rest: unknown[]) {
    seen.add(sql);
    return orig.call(this, sql, ...rest);
  };
}
afterAll(() => {
  // leave bun:sqlite as it was for any file that runs after this one in the same process
  proto.prepare = originals.prepare;
  proto.query = originals.query;
});

const { AgentClient, owner, request, startTestServer, eventually } = await import("./helpers.ts");
const { connectAgent, connectInbox } = await import("./ws-helpers.ts");
const { describeSqlite } = await import("./pg-helpers.ts");
const { failStaleRuns } = await import("../server/tasks/run-timeout.ts");
const { dueWebhookAgents } = await import("../server/delivery/outbox-queries.ts");

/** Tables that grow with use: reading one whole is what must never happen. */
const BIG = ["messages", "activity", "outbox", "decisions", "task_runs", "run_context", "push_queue", "conversations", "agents", "sessions", "auth_limits", "auth_known_addresses"];

// SQLite's planner (EXPLAIN QUERY PLAN over the statements bun:sqlite prepared).
describeSqlite("every list and count reads through an index", async () => {
  let start = 0;
  // every kind of retention on, messages included (off by default)
  const server = await startTestServer({ now: () => Date.now() + start, keepMessagesMs: 365 * 86_400_000 });
  const person = await owner(server);
  const created = await person.createAgent({ name: "Planner", webhook_url: "http://127.0.0.1:9/hook" });
  const agent = new AgentClient(server.url, created.id, created.secret);

  beforeAll(async () => {
    // The tour: what people, agents, sockets and the loops do every day.
    for (const password of ["wrong password", "correct horse battery"]) await request(server.url, "POST", "/api/auth/login", { body: { username: "alice", password } });
    const conv = (await agent.event({ type: "message", text: "hi" })).body.conversation_id as string;
    await agent.event({ type: "alert", title: "working" });
    const dec = (await agent.event({ type: "decision", kind: "approval", title: "Deploy?", description: "" })).body.decision_id as string;
    await agent.event({ type: "decision", kind: "question", title: "Why?", description: "" });
    await person.post(`/api/decisions/${dec}/respond`, { status: "approved" });
    await person.post(`/api/agents/${created.id}/messages`, { text: "hello" });
    const task = (await person.post(`/api/agents/${created.id}/tasks`, { name: "Nightly", prompt: "check", schedule: "* * * * *" })).body;
    const run = (await person.post(`/api/tasks/${task.id}/run`)).body.run_id as string;
    const hookTask = (await person.post(`/api/agents/${created.id}/tasks`, { name: "Hook", prompt: "react", schedule: "event" })).body;
    await fetch(hookTask.trigger_url.replace(/^https?:\/\/[^/]+/, server.url), { method: "POST", body: "{}" });
    const inbox = await connectInbox(server, person);
    const socket = await connectAgent(server, created); // the replay
    await socket.waitFor("user_message");
    await eventually(async () => ((await person.get(`/api/deliveries?status=delivered`)).body as unknown[]).length > 0, 5000, "a delivered mark");
    const people = [
      "/api/agents",
      "/api/agents?limit=5",
      `/api/agents?before=${created.id}`,
      `/api/agents/${created.id}`,
      `/api/agents/${created.id}/conversations`,
      `/api/conversations/${conv}/messages`,
      `/api/conversations/${conv}/messages?before=msg_f&limit=10`,
      "/api/decisions",
      "/api/decisions?status=pending",
      "/api/decisions?status=resolved",
      `/api/decisions?agent_id=${created.id}`,
      `/api/decisions?agent_id=${created.id}&status=pending`,
      `/api/decisions?agent_id=${created.id}&status=resolved&before=dec_f`,
      `/api/decisions/${dec}`,
      "/api/activity",
      "/api/activity?before=act_f",
      `/api/agents/${created.id}/activity`,
      "/api/deliveries",
      "/api/deliveries?status=delivered",
      "/api/deliveries?status=undelivered&before=evt_f",
      `/api/deliveries?agent_id=${created.id}`,
      `/api/deliveries?agent_id=${created.id}&status=delivered`,
      "/api/tasks",
      `/api/tasks?agent_id=${created.id}`,
      `/api/tasks/${task.id}`,
      `/api/tasks/${task.id}/runs`,
      `/api/tasks/${task.id}/runs?before=run_f`,
      "/api/push/subscriptions",
      "/api/push/settings",
    ];
    for (const p of people) expect({ p, status: (await person.get(p)).status }).toEqual({ p, status: 200 });
    await person.post(`/api/conversations/${conv}/read`);
    for (const p of ["/api/agent/tasks", "/api/agent/tasks/due", "/api/agent/tasks/triggers/pending", `/api/agent/decisions/${dec}`, `/api/agent/tasks/runs/${run}`])
      expect({ p, status: (await agent.get(p)).status }).toEqual({ p, status: 200 });
    const started = (await agent.post(`/api/agent/tasks/${task.id}/run/start`)).body.run_id as string;
    expect((await agent.post(`/api/agent/tasks/runs/${started}/context`, { text: "note" })).status).toBe(200);
    expect((await agent.get(`/api/agent/tasks/runs/${started}/context`)).status).toBe(200);
    expect((await agent.post(`/api/agent/tasks/runs/${started}/complete`, { status: "completed", summary: "done" })).status).toBe(200);
    expect((await person.get(`/api/tasks/runs/${run}`)).status).toBe(200);
    // the loops: the scheduler's next minute, the timeout sweep, the webhook's due list, retention
    start = 61_000;
    await server.live.scheduler.tick();
    await failStaleRuns(server.ctx, Date.now() + 2 * server.ctx.config.runTimeoutMs);
    await dueWebhookAgents(server.ctx.db, new Date().toISOString());
    start = 2 * 365 * 86_400_000; // two years on: the rows retention deletes are old enough (no push markers: no device here)
    expect(await server.live.retention.run()).toMatchObject({ outbox: expect.any(Number), messages: 3, sessions: 2, push_queue: 0 }); // the owner's session and the tour's sign-in
    socket.close();
    inbox.close();
    await Bun.sleep(100);
  });

  test("EXPLAIN QUERY PLAN: no statement reads a whole big table", () => {
    const db = server.ctx.db.$client;
    const partial = (table: string, index: string) => db.query<{ name: string; partial: number }, []>(`PRAGMA index_list(${table})`).all().some((i) => i.name === index && i.partial === 1);
    const offenders: string[] = [];
    let explained = 0;
    for (const sql of seen) {
      if (!/^\s*(select|update|delete|with)\b/i.test(sql) || /^\s*select\s+\d/i.test(sql)) continue;
      const plan = db.query<{ detail: string }, []>(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => r.detail);
      explained++;
      if (process.env.NOD_TEST_PLANS) console.log(sql.replace(/\s+/g, " ").slice(0, 160), "\n    →", plan.join(" | "));
      const reads = plan.map((step) => /^(?:SCAN|SEARCH) (\w+)/.exec(step)?.[1]).filter((t): t is string => !!t && BIG.includes(t));
      const flat = sql.replace(/\s+/g, " ");
      for (const step of plan) {
        const m = /^SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?/.exec(step);
        // a whole big table, row by row
        if (m && BIG.includes(m[1]!) && !/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(step)) offenders.push(`${step}   ←   ${flat}`);
        // a whole index of a big table: only a page (LIMIT), or a partial index (what it holds is bounded: pending, unread…)
        if (m?.[2] && BIG.includes(m[1]!) && !/\blimit\b/i.test(sql) && !partial(m[1]!, m[2])) offenders.push(`${step}   ←   ${flat}`);
        // a page (LIMIT) of a big table that is sorted after reading every match, instead of read in index order
        if (/TEMP B-TREE FOR ORDER BY/.test(step) && reads.length && /\blimit\b/i.test(sql)) offenders.push(`${step}   ←   ${sql.replace(/\s+/g, " ")}`);
      }
    }
    expect(explained).toBeGreaterThan(40);
    expect(offenders).toEqual([]);
  });
});

describe("unread counts and marking read", async () => {
  const server = await startTestServer();
  const person = await owner(server);
  const created = await person.createAgent({ name: "Chatty" });
  const agent = new AgentClient(server.url, created.id, created.secret);
  const counts = async () => {
    const a = ((await person.get("/api/agents")).body as { id: string; unread_messages: number; pending_requests: number }[]).find((x) => x.id === created.id)!;
    const page = ((await person.get("/api/agents?limit=200")).body as typeof a[]).find((x) => x.id === created.id)!;
    expect(page).toEqual(a); // a page counts the same as the whole list
    return { unread: a.unread_messages, pending: a.pending_requests };
  };

  test("agent messages count, a person's do not; reading zeroes them, read twice is still 0, the next message counts again", async () => {
    const main = (await agent.event({ type: "message", text: "one" })).body.conversation_id as string;
    await agent.event({ type: "message", text: "two" });
    await person.post(`/api/agents/${created.id}/messages`, { text: "a person's reply" });
    await agent.event({ type: "decision", kind: "question", title: "Which?", description: "" });
    expect(await counts()).toEqual({ unread: 2, pending: 1 });
    expect((await person.post(`/api/conversations/${main}/read`)).status).toBe(204);
    expect(await counts()).toEqual({ unread: 0, pending: 1 });
    expect((await person.post(`/api/conversations/${main}/read`)).status).toBe(204);
    await agent.event({ type: "message", text: "three" });
    expect(await counts()).toEqual({ unread: 1, pending: 1 });
  });

  test("a task run's report counts as unread too", async () => {
    const task = (await person.post(`/api/agents/${created.id}/tasks`, { name: "Report", prompt: "go", schedule: "* * * * *" })).body;
    const run = (await person.post(`/api/tasks/${task.id}/run`)).body.run_id as string;
    const before = (await counts()).unread;
    expect((await agent.post(`/api/agent/tasks/runs/${run}/complete`, { status: "completed", summary: "all good" })).status).toBe(200);
    expect((await counts()).unread).toBe(before + 1);
  });
});

describe("an existing database keeps its unread counts through the upgrade", () => {
  test("messages unread before (read_at empty) are counted on their conversation after the upgrade (migration 0001)", async () => {
    const { mkdtempSync, cpSync, readFileSync, writeFileSync, rmSync } = await import("node:fs");
    const path = await import("node:path");
    const { tmpdir } = await import("node:os");
    const { drizzle } = await import("drizzle-orm/bun-sqlite");
    const { migrate } = await import("drizzle-orm/bun-sqlite/migrator");
    const { openDb, closeDb } = await import("../server/db/index.ts");
    const dir = mkdtempSync(path.join(tmpdir(), "nod-upgrade-"));
    try {
      // The database as the last release left it: migration 0000 only.
      const old = path.join(dir, "migrations");
      cpSync(path.join(import.meta.dir, "../drizzle"), old, { recursive: true });
      const journal = JSON.parse(readFileSync(path.join(old, "meta/_journal.json"), "utf8"));
      journal.entries = journal.entries.filter((e: { idx: number }) => e.idx < 1);
      writeFileSync(path.join(old, "meta/_journal.json"), JSON.stringify(journal));
      const sqlite = new Database(path.join(dir, "nod.db"), { create: true });
      migrate(drizzle({ client: sqlite }), { migrationsFolder: old });
      const t = "2026-01-01T00:00:00.000Z";
      sqlite.run(`INSERT INTO agents (id, name, type, secret_hash, webhook_secret, created_at, updated_at) VALUES ('agt_a', 'A', 'interactive', 'x', 'y', '${t}', '${t}')`);
      sqlite.run(`INSERT INTO conversations (id, agent_id, title, is_default, created_at, updated_at) VALUES ('conv_1', 'agt_a', 'A', 1, '${t}', '${t}'), ('conv_2', 'agt_a', 'B', 0, '${t}', '${t}')`);
      const msg = (id: string, conv: string, role: string, readAt: string | null) =>
        sqlite.run(`INSERT INTO messages (id, conversation_id, agent_id, role, text, read_at, created_at) VALUES (?, ?, 'agt_a', ?, 'x', ?, '${t}')`, [id, conv, role, readAt]);
      msg("msg_1", "conv_1", "agent", t); // read
      msg("msg_2", "conv_1", "agent", null);
      msg("msg_3", "conv_1", "task", null);
      msg("msg_4", "conv_1", "user", t);
      msg("msg_5", "conv_2", "agent", null);
      sqlite.close();
      const db = openDb(dir); // applies 0001
      const rows = db.$client.query("SELECT id, unread, unread_since FROM conversations ORDER BY id").all();
      expect(rows).toEqual([
        { id: "conv_1", unread: 2, unread_since: "msg_2" }, // the first unread one: retention counts from it
        { id: "conv_2", unread: 1, unread_since: "msg_5" },
      ]);
      closeDb(db);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("GET /api/agents pages", async () => {
  const server = await startTestServer();
  const person = await owner(server);
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push((await person.createAgent({ name: `Agent ${i}` })).id);
  const names = async (q: string) => ((await person.get(`/api/agents${q}`)).body as { name: string }[]).map((a) => a.name);

  test("without ?limit or ?before: the newest page (default 50: here every agent), oldest first", async () => {
    expect(await names("")).toEqual([...Array(7).keys()].map((i) => `Agent ${i}`));
  });

  test("?limit=N: the N created last, oldest first; ?before= the first of a page continues back; the counts come along", async () => {
    expect(await names("?limit=3")).toEqual(["Agent 4", "Agent 5", "Agent 6"]);
    expect(await names(`?limit=3&before=${ids[4]}`)).toEqual(["Agent 1", "Agent 2", "Agent 3"]);
    expect(await names(`?limit=3&before=${ids[1]}`)).toEqual(["Agent 0"]);
    expect(await names(`?before=${ids[0]}`)).toEqual([]);
    expect(await names(`?before=${ids[6]}`)).toEqual([...Array(6).keys()].map((i) => `Agent ${i}`)); // default limit 50
    const page = (await person.get("/api/agents?limit=1")).body[0];
    expect(page).toMatchObject({ id: ids[6], pending_requests: 0, unread_messages: 0, online: false });
    expect(page.webhook_secret).toBeUndefined();
  });

  test("agents made in the same millisecond keep their creation order, in the list and across pages", async () => {
    const { createAgent } = await import("../server/agents/service.ts");
    const burst = (await Promise.all(Array.from({ length: 6 }, (_, i) => createAgent(server.ctx, { name: `Burst ${i}` }, null)))).map((c) => c.agent.id);
    const all = ((await person.get("/api/agents")).body as { id: string }[]).map((a) => a.id);
    expect(all.slice(-6)).toEqual(burst);
    const last = ((await person.get("/api/agents?limit=4")).body as { id: string }[]).map((a) => a.id);
    const prev = ((await person.get(`/api/agents?limit=4&before=${last[0]}`)).body as { id: string }[]).map((a) => a.id);
    expect([...prev, ...last]).toEqual(all.slice(-8));
  });

  test("a bad page is a 400 naming the parameter", async () => {
    for (const [q, field] of [["?limit=0", "limit"], ["?limit=201", "limit"], ["?limit=x", "limit"], ["?before=agt_nope", "before"]]) {
      const r = await person.get(`/api/agents${q}`);
      expect({ q, status: r.status }).toEqual({ q, status: 400 });
      expect(r.body.detail).toContain(field);
    }
  });
});

describe("the run-timeout sweep", async () => {
  let clock = Date.parse("2026-01-05T08:00:00Z");
  const server = await startTestServer({ now: () => clock, runTimeoutMs: 3_600_000 });
  const person = await owner(server);
  const created = await person.createAgent({ name: "Slow" });
  const agent = new AgentClient(server.url, created.id, created.secret);

  test("fails every run past the timeout, batch after batch, and leaves the others; with none stale it finds nothing", async () => {
    const task = (await person.post(`/api/agents/${created.id}/tasks`, { name: "Job", prompt: "go", schedule: "0 0 1 1 *" })).body;
    const old: string[] = [];
    for (let i = 0; i < 120; i++) old.push((await person.post(`/api/tasks/${task.id}/run`)).body.run_id);
    clock += 2 * 3_600_000; // two hours on: those 120 are past the one-hour timeout
    const fresh = (await person.post(`/api/tasks/${task.id}/run`)).body.run_id as string;
    let found = 0;
    for (let n; (n = await failStaleRuns(server.ctx, clock)) > 0; ) found += n;
    expect(found).toBe(120);
    expect(await failStaleRuns(server.ctx, clock)).toBe(0);
    const runs = (await person.get(`/api/tasks/${task.id}/runs?limit=200`)).body as { id: string; status: string; summary: string | null }[];
    expect(runs.filter((r) => old.includes(r.id)).every((r) => r.status === "failed" && r.summary === "Timed out: not completed within 1 h.")).toBe(true);
    expect(runs.find((r) => r.id === fresh)!.status).toBe("due");
    expect((await agent.get("/api/agent/tasks/due")).body.map((r: { run_id: string }) => r.run_id)).toEqual([fresh]);
  });
});
