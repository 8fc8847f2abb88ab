// Task proposals (approve / reject / an invalid schedule) and what people and
// agents see live: inbox frames task / task_run / task_deleted, and task_due /
// task_trigger over the agent's socket.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { outbox } from "../server/db/tables.ts";
import { startTestServer, withAgent } from "./helpers.ts";
import { connectAgent, connectInbox } from "./ws-helpers.ts";

describe("task proposals", async () => {
  const server = await startTestServer();
  const { person, created, agent } = await withAgent(server, { name: "Planner" });
  const resolvedEvents = async () =>
    (await server.ctx.db.select().from(outbox).where(eq(outbox.type, "decision_resolved"))).map((r) => JSON.parse(r.payload));
  const propose = async (body: Record<string, unknown>) => {
    const r = await agent.event({ type: "task_proposal", title: "Schedule: Daily summary", task_name: "Daily summary", task_prompt: "Summarize git activity", task_schedule: "0 9 * * 1-5", ...body });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "ok" });
    return r.body.decision_id as string;
  };

  test("approving creates the task; the agent's decision_resolved carries task_id", async () => {
    const id = await propose({ timezone: "Europe/Paris" });
    const r = await person.post(`/api/decisions/${id}/respond`, { status: "approved", note: "yes please" });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("approved");
    const taskId = r.body.task_id;
    expect(taskId).toMatch(/^tsk_/);
    const task = (await agent.get("/api/agent/tasks")).body.find((t: any) => t.id === taskId);
    expect(task).toMatchObject({ name: "Daily summary", prompt: "Summarize git activity", schedule: "0 9 * * 1-5", trigger_type: "scheduled", timezone: "Europe/Paris", enabled: true });
    expect(task.next_run_at).toMatch(/T0[78]:00:00Z$/);
    const ev = (await resolvedEvents()).find((e) => e.decision_id === id);
    expect(ev).toMatchObject({ type: "decision_resolved", status: "approved", note: "yes please", task_id: taskId });
  });

  test("rejecting creates nothing; the event says rejected with no task", async () => {
    const before = (await person.get("/api/tasks")).body.length;
    const id = await propose({ task_name: "Unwanted" });
    const r = await person.post(`/api/decisions/${id}/respond`, { status: "rejected", note: "not now" });
    expect(r.status).toBe(200);
    expect(r.body.task_id).toBeNull();
    expect((await person.get("/api/tasks")).body.length).toBe(before);
    expect((await resolvedEvents()).find((e) => e.decision_id === id)).toMatchObject({ status: "rejected", task_id: null });
  });

  test("an invalid schedule fails the approval with a clear 400; the request stays pending, no task is made", async () => {
    const before = (await person.get("/api/tasks")).body.length;
    const bad = await propose({ task_name: "Broken", task_schedule: "0 9 * * 1-9" });
    let r = await person.post(`/api/decisions/${bad}/respond`, { status: "approved" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("task_schedule:");
    expect(r.body.detail).toContain("0 9 * * 1-9");
    const d = (await person.get(`/api/decisions/${bad}`)).body;
    expect(d.status).toBe("pending");
    expect((await person.get("/api/tasks")).body.length).toBe(before);
    expect((await resolvedEvents()).some((e) => e.decision_id === bad)).toBe(false);

    const badZone = await propose({ task_name: "Zoned", timezone: "Atlantis/Capital" });
    r = await person.post(`/api/decisions/${badZone}/respond`, { status: "approved" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("timezone:");
    // it can still be rejected
    r = await person.post(`/api/decisions/${bad}/respond`, { status: "rejected", note: "fix the schedule" });
    expect(r.status).toBe(200);
  });

  test("once and event proposals become once and event tasks", async () => {
    const ev = await propose({ task_name: "On deploy", task_schedule: "event" });
    const r = await person.post(`/api/decisions/${ev}/respond`, { status: "approved" });
    const t = (await person.get(`/api/tasks/${r.body.task_id}`)).body;
    expect(t).toMatchObject({ trigger_type: "event", agent_id: created.id });
    expect(t.trigger_url).toEndWith(`/webhook/${t.trigger_id}`);
  });
});

describe("live: inbox frames and the agent's socket", async () => {
  const server = await startTestServer();
  const { person, created, agent } = await withAgent(server, { name: "Live" });

  test("creating, running, completing and deleting a task shows in the inbox; task_due reaches the agent's socket", async () => {
    const inbox = await connectInbox(server, person);
    const sock = await connectAgent(server, created);
    const r = await person.post(`/api/agents/${created.id}/tasks`, { name: "Live task", prompt: "Go.", schedule: "0 0 * * *" });
    const task = r.body;
    expect((await inbox.waitFor((f) => f.type === "task" && f.task.id === task.id)).task).toMatchObject({ name: "Live task", agent_id: created.id });

    const run = (await person.post(`/api/tasks/${task.id}/run`)).body.run_id;
    const due = await sock.waitFor("task_due");
    expect(due).toMatchObject({ type: "task_due", task_id: task.id, run_id: run, task_name: "Live task", task_prompt: "Go.", schedule: "0 0 * * *" });
    expect(due.event_id).toMatch(/^evt_/);
    expect((await inbox.waitFor((f) => f.type === "task_run" && f.run.id === run)).run).toMatchObject({ status: "due", task_id: task.id, agent_id: created.id });

    await agent.post(`/api/agent/tasks/runs/${run}/complete`, { status: "completed", summary: "**done**" });
    expect((await inbox.waitFor((f) => f.type === "task_run" && f.run.id === run && f.run.status === "completed")).run.summary).toBe("**done**");
    const msg = await inbox.waitFor((f) => f.type === "message" && f.message.task_run_id === run);
    expect(msg.message).toMatchObject({ role: "task", text: "**done**" });
    expect((await inbox.waitFor((f) => f.type === "task" && f.task.id === task.id && f.task.last_run_status === "completed")).task.last_run_status).toBe("completed");

    await person.delete(`/api/tasks/${task.id}`);
    expect(await inbox.waitFor("task_deleted")).toMatchObject({ type: "task_deleted", task_id: task.id });
  });

  test("task_trigger goes over the socket with its payload", async () => {
    const sock = await connectAgent(server, created);
    const t = (await agent.post("/api/agent/tasks", { name: "Hooked", prompt: "React.", schedule: "event" })).body;
    const res = await fetch(`${server.url}/webhook/${t.trigger_id}`, { method: "POST", body: JSON.stringify({ alert: "disk full" }), headers: { "content-type": "application/json" } });
    const runId = ((await res.json()) as any).run_id;
    const f = await sock.waitFor("task_trigger");
    expect(f).toMatchObject({ type: "task_trigger", task_id: t.id, run_id: runId, task_name: "Hooked", task_prompt: "React.", payload: { alert: "disk full" } });
  });
});
