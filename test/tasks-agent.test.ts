// The agent task API (spec 004): tasks, due runs, start, complete, runs, the
// context scratchpad; another agent's task or run is 404; no credentials 401.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { outbox } from "../server/db/tables.ts";
import { first } from "../server/db/rows.ts";
import { AgentClient, eventually, request, startTestServer, withAgent } from "./helpers.ts";

const HEX64 = /^[0-9a-f]{64}$/;

describe("agent task API", async () => {
  const server = await startTestServer();
  const { person, created, agent } = await withAgent(server, { name: "Builder" });
  const other = await person.createAgent({ name: "Other" });
  const otherAgent = new AgentClient(server.url, other.id, other.secret);
  const outboxEvents = async (type: string, agentId = created.id) =>
    (await server.ctx.db.select().from(outbox).where(eq(outbox.type, type as "task_due")))
      .filter((r) => r.agentId === agentId)
      .map((r) => JSON.parse(r.payload));

  test("every task route needs agent credentials: 401 {detail}", async () => {
    for (const [m, path] of [
      ["GET", "/api/agent/tasks"],
      ["POST", "/api/agent/tasks"],
      ["GET", "/api/agent/tasks/due"],
      ["GET", "/api/agent/tasks/triggers/pending"],
      ["POST", "/api/agent/tasks/tsk_x/run/start"],
      ["POST", "/api/agent/tasks/runs/run_x/complete"],
      ["GET", "/api/agent/tasks/runs/run_x"],
      ["POST", "/api/agent/tasks/runs/run_x/context"],
      ["GET", "/api/agent/tasks/runs/run_x/context"],
    ] as const) {
      const r = await request(server.url, m, path, { body: m === "POST" ? {} : undefined });
      expect(r.status, `${m} ${path}`).toBe(401);
      expect(typeof r.body.detail).toBe("string");
      const wrong = await request(server.url, m, path, {
        body: m === "POST" ? {} : undefined,
        headers: { "x-nod-agent-id": created.id, "x-nod-secret": "nod_" + "0".repeat(40) },
      });
      expect(wrong.status, `${m} ${path} wrong secret`).toBe(401);
    }
  });

  let cronTask: any;
  test("POST /api/agent/tasks creates a cron task with the documented fields", async () => {
    const before = Date.now();
    const r = await agent.post("/api/agent/tasks", { name: "Health check", prompt: "Run the test suite and report failures.", schedule: "0 */6 * * *" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      name: "Health check",
      prompt: "Run the test suite and report failures.",
      schedule: "0 */6 * * *",
      trigger_type: "scheduled",
      enabled: true,
      agent_id: created.id,
      timezone: "UTC",
      last_run_status: null,
    });
    expect(r.body.id).toMatch(/^tsk_/);
    expect(r.body.next_run_at).toMatch(/^\d{4}-\d\d-\d\dT(00|06|12|18):00:00Z$/);
    expect(Date.parse(r.body.next_run_at)).toBeGreaterThan(before); // after the moment it was asked for
    cronTask = r.body;
  });

  test("a 6-field cron (seconds) and a time zone are accepted; next_run_at is UTC", async () => {
    const r = await agent.post("/api/agent/tasks", { name: "Tick", prompt: "p", schedule: "30 0 9 * * *", timezone: "Asia/Tokyo" });
    expect(r.status).toBe(200);
    expect(r.body.timezone).toBe("Asia/Tokyo");
    expect(r.body.next_run_at).toMatch(/T00:00:30Z$/); // 09:00:30 in Tokyo (UTC+9, no DST)
  });

  test("bad input: 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ prompt: "p", schedule: "* * * * *" }, "name"],
      [{ name: "n", schedule: "* * * * *" }, "prompt"],
      [{ name: "n", prompt: "p" }, "schedule"],
      [{ name: "n", prompt: "p", schedule: "61 * * * *" }, "schedule"],
      [{ name: "n", prompt: "p", schedule: "every day" }, "schedule"],
      [{ name: "n", prompt: "p", schedule: "* * * * * * *" }, "schedule"],
      [{ name: "n", prompt: "p", schedule: "0 0 31 2 *" }, "schedule"],
      [{ name: "n", prompt: "p", schedule: "* * * * *", timezone: "Mars/Olympus" }, "timezone"],
      [{ name: "n", prompt: "p", schedule: "* * * * *", run_at: "2026-01-01T00:00:00Z" }, "run_at"],
      [{ name: "n", prompt: "p", schedule: "once", run_at: "next tuesday" }, "run_at"],
      [{ name: "", prompt: "p", schedule: "event" }, "name"],
      [{ name: "   ", prompt: "p", schedule: "event" }, "name"],
    ];
    for (const [body, field] of cases) {
      const r = await agent.post("/api/agent/tasks", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.detail, JSON.stringify(body)).toStartWith(`${field}:`);
    }
    const bad = await agent.post("/api/agent/tasks", { name: "n", prompt: "p", schedule: "61 * * * *" });
    expect(bad.body.detail).toContain("minute");
  });

  let eventTask: any;
  test("an event task gets a 64-hex trigger_id and its trigger_url", async () => {
    const r = await agent.post("/api/agent/tasks", { name: "Process push", prompt: "Analyze the push event.", schedule: "event" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ schedule: "event", trigger_type: "event", enabled: true, next_run_at: null });
    expect(r.body.trigger_id).toMatch(HEX64);
    expect(r.body.trigger_url).toEndWith(`/webhook/${r.body.trigger_id}`);
    eventTask = r.body;
  });

  test("GET /api/agent/tasks lists this agent's tasks only", async () => {
    await otherAgent.post("/api/agent/tasks", { name: "Not yours", prompt: "p", schedule: "0 9 * * *" });
    const r = await agent.get("/api/agent/tasks");
    expect(r.status).toBe(200);
    const names = r.body.map((t: any) => t.name);
    expect(names).toContain("Health check");
    expect(names).toContain("Process push");
    expect(names).not.toContain("Not yours");
    const ev = r.body.find((t: any) => t.id === eventTask.id);
    expect(ev.trigger_id).toBe(eventTask.trigger_id);
  });

  let dueRunId: string;
  let onceTask: any;
  test("a once task without run_at runs now: the run is due, task_due is queued, /due lists it with run_id", async () => {
    const r = await agent.post("/api/agent/tasks", { name: "Once now", prompt: "Say hello.", schedule: "once" });
    expect(r.status).toBe(200);
    expect(r.body.trigger_type).toBe("once");
    onceTask = r.body;
    const due = await eventually(async () => {
      const d = await agent.get("/api/agent/tasks/due");
      return d.body.length ? d.body : null;
    });
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({ id: onceTask.id, name: "Once now", prompt: "Say hello.", schedule: "once", trigger_type: "once", enabled: true });
    expect(due[0].run_id).toMatch(/^run_/);
    dueRunId = due[0].run_id;
    const ev = (await outboxEvents("task_due")).find((e) => e.run_id === dueRunId);
    expect(ev).toMatchObject({ type: "task_due", task_id: onceTask.id, task_name: "Once now", task_prompt: "Say hello.", schedule: "once" });
    expect(ev.event_id).toMatch(/^evt_/);
    // polling told the agent: the event is marked delivered (via poll) and not replayed later
    const row = first(await server.ctx.db.select().from(outbox).where(eq(outbox.id, ev.event_id)))!;
    expect(row).toMatchObject({ status: "delivered", deliveredVia: "poll" });
    expect((await agent.get("/api/agent/tasks/due")).body.map((d: any) => d.run_id)).toEqual([dueRunId]); // still listed
    // it ran: nothing more is scheduled
    const t = (await agent.get("/api/agent/tasks")).body.find((x: any) => x.id === onceTask.id);
    expect(t.next_run_at).toBeNull();
    expect((await otherAgent.get("/api/agent/tasks/due")).body).toEqual([]);
  });

  test("run/start takes the due run (it leaves /due); without one it makes a running run", async () => {
    const r = await agent.post(`/api/agent/tasks/${onceTask.id}/run/start`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ run_id: dueRunId });
    const run = await agent.get(`/api/agent/tasks/runs/${dueRunId}`);
    expect(run.body).toMatchObject({ id: dueRunId, task_id: onceTask.id, agent_id: created.id, status: "running", summary: null, finished_at: null });
    expect(run.body.started_at).toMatch(/Z$/);
    expect((await agent.get("/api/agent/tasks/due")).body).toEqual([]);

    const fresh = await agent.post(`/api/agent/tasks/${cronTask.id}/run/start`);
    expect(fresh.status).toBe(200);
    expect(fresh.body.run_id).toMatch(/^run_/);
    const fr = await agent.get(`/api/agent/tasks/runs/${fresh.body.run_id}`);
    expect(fr.body).toMatchObject({ task_id: cronTask.id, status: "running" });
  });

  test("the context scratchpad: blocks numbered 1, 2 … in order; run_id in the body is optional", async () => {
    let r = await agent.post(`/api/agent/tasks/runs/${dueRunId}/context`, { run_id: dueRunId, text: "Fetched daily goals" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ok", block_id: 1 });
    r = await agent.post(`/api/agent/tasks/runs/${dueRunId}/context`, { text: JSON.stringify({ picked: "review PRs" }) });
    expect(r.body).toEqual({ status: "ok", block_id: 2 });
    r = await agent.get(`/api/agent/tasks/runs/${dueRunId}/context`);
    expect(r.status).toBe(200);
    expect(r.body.run_id).toBe(dueRunId);
    expect(r.body.blocks.map((b: any) => [b.id, b.text])).toEqual([
      [1, "Fetched daily goals"],
      [2, '{"picked":"review PRs"}'],
    ]);
    expect(r.body.blocks[0].created_at).toMatch(/Z$/);
    r = await agent.post(`/api/agent/tasks/runs/${dueRunId}/context`, {});
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("text:");
  });

  test("complete: bad status 400, summary over 64 KiB 413", async () => {
    let r = await agent.post(`/api/agent/tasks/runs/${dueRunId}/complete`, { status: "done" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("status:");
    r = await agent.post(`/api/agent/tasks/runs/${dueRunId}/complete`, {});
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("status:");
    r = await agent.post(`/api/agent/tasks/runs/${dueRunId}/complete`, { status: "completed", summary: "x".repeat(64 * 1024 + 1) });
    expect(r.status).toBe(413);
    expect(r.body.detail).toContain("summary");
  });

  test("complete: the run is completed, the chat gets the task message, context is cleared, last_run_status follows", async () => {
    const summary = "## Daily Summary\n\n- **12 commits** across 3 PRs\n" + "x".repeat(5000); // beyond the hosted 1000 chars
    const r = await agent.post(`/api/agent/tasks/runs/${dueRunId}/complete`, { status: "completed", summary });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "completed", run_id: dueRunId });

    const run = await agent.get(`/api/agent/tasks/runs/${dueRunId}`);
    expect(run.body).toMatchObject({ status: "completed", summary });
    expect(run.body.finished_at).toMatch(/Z$/);

    const convs = await person.get(`/api/agents/${created.id}/conversations`);
    expect(convs.body).toHaveLength(1);
    const msgs = await person.get(`/api/conversations/${convs.body[0].id}/messages`);
    const m = msgs.body.find((x: any) => x.task_run_id === dueRunId);
    expect(m).toMatchObject({ role: "task", text: summary, task_run_id: dueRunId });

    const ctx = await agent.get(`/api/agent/tasks/runs/${dueRunId}/context`);
    expect(ctx.status).toBe(200);
    expect(ctx.body).toEqual({ run_id: dueRunId, blocks: [] });
    const more = await agent.post(`/api/agent/tasks/runs/${dueRunId}/context`, { text: "late" });
    expect(more.status).toBe(409);

    const t = (await agent.get("/api/agent/tasks")).body.find((x: any) => x.id === onceTask.id);
    expect(t.last_run_status).toBe("completed");

    const again = await agent.post(`/api/agent/tasks/runs/${dueRunId}/complete`, { status: "failed" });
    expect(again.status).toBe(409);
  });

  test("a failed run: status failed, last_run_status failed", async () => {
    const s = await agent.post(`/api/agent/tasks/${cronTask.id}/run/start`);
    const r = await agent.post(`/api/agent/tasks/runs/${s.body.run_id}/complete`, { status: "failed", summary: "tests broke" });
    expect(r.body).toEqual({ status: "failed", run_id: s.body.run_id });
    const t = (await agent.get("/api/agent/tasks")).body.find((x: any) => x.id === cronTask.id);
    expect(t.last_run_status).toBe("failed");
  });

  test("another agent's task or run is 404, like an unknown one", async () => {
    const s = await agent.post(`/api/agent/tasks/${cronTask.id}/run/start`);
    const runId = s.body.run_id;
    const calls: [string, string, unknown?][] = [
      ["POST", `/api/agent/tasks/${cronTask.id}/run/start`],
      ["GET", `/api/agent/tasks/runs/${runId}`],
      ["POST", `/api/agent/tasks/runs/${runId}/complete`, { status: "completed" }],
      ["POST", `/api/agent/tasks/runs/${runId}/context`, { text: "x" }],
      ["GET", `/api/agent/tasks/runs/${runId}/context`],
      ["POST", `/api/agent/tasks/tsk_unknown/run/start`],
      ["GET", `/api/agent/tasks/runs/run_unknown`],
    ];
    for (const [m, path, body] of calls) {
      const r = await otherAgent.call(m, path, body ?? (m === "POST" ? {} : undefined));
      expect(r.status, `${m} ${path}`).toBe(404);
      expect(typeof r.body.detail).toBe("string");
    }
    // and it is untouched
    expect((await agent.get(`/api/agent/tasks/runs/${runId}`)).body.status).toBe("running");
  });

  test("an approval-only agent may have tasks; completing creates no chat message but an activity entry", async () => {
    const a = await person.createAgent({ name: "Gatekeeper", type: "approval_only" });
    const ag = new AgentClient(server.url, a.id, a.secret);
    const t = await ag.post("/api/agent/tasks", { name: "Nightly audit", prompt: "Audit.", schedule: "0 3 * * *" });
    expect(t.status).toBe(200);
    const s = await ag.post(`/api/agent/tasks/${t.body.id}/run/start`);
    const c = await ag.post(`/api/agent/tasks/runs/${s.body.run_id}/complete`, { status: "completed", summary: "all good" });
    expect(c.status).toBe(200);
    expect((await person.get(`/api/agents/${a.id}/conversations`)).body).toEqual([]);
    const act = await person.get(`/api/agents/${a.id}/activity`);
    expect(act.body.some((e: any) => e.task_run_id === s.body.run_id)).toBe(true);
  });
});
