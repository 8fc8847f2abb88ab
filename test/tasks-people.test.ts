// The people's task routes (API.md "People: tasks") and the editor's preview.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { outbox } from "../server/db/tables.ts";
import { AgentClient, eventually, request, startTestServer, withAgent } from "./helpers.ts";

describe("people: tasks", async () => {
  const server = await startTestServer();
  const { person, created, agent } = await withAgent(server, { name: "Reporter" });
  const second = await person.createAgent({ name: "Second" });

  test("every task route needs a signed-in person: 401 {detail}", async () => {
    for (const [m, path] of [
      ["GET", "/api/tasks"],
      ["GET", "/api/tasks/preview?schedule=*%20*%20*%20*%20*"],
      ["GET", "/api/tasks/tsk_x"],
      ["POST", `/api/agents/${created.id}/tasks`],
      ["PATCH", "/api/tasks/tsk_x"],
      ["DELETE", "/api/tasks/tsk_x"],
      ["POST", "/api/tasks/tsk_x/run"],
      ["GET", "/api/tasks/tsk_x/runs"],
      ["GET", "/api/tasks/runs/run_x"],
    ] as const) {
      const r = await request(server.url, m, path, { body: m === "POST" || m === "PATCH" ? {} : undefined });
      expect(r.status, `${m} ${path}`).toBe(401);
      expect(typeof r.body.detail).toBe("string");
    }
    // an agent's credentials are not a person's session
    expect((await agent.get("/api/tasks")).status).toBe(401);
  });

  let task: any;
  test("POST /api/agents/:id/tasks: 201 the task", async () => {
    const r = await person.post(`/api/agents/${created.id}/tasks`, { name: "Weekly digest", prompt: "Write the digest.", schedule: "30 8 * * 1", timezone: "Europe/London" });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      agent_id: created.id,
      name: "Weekly digest",
      prompt: "Write the digest.",
      schedule: "30 8 * * 1",
      trigger_type: "scheduled",
      timezone: "Europe/London",
      enabled: true,
      last_run_status: null,
    });
    expect(r.body.id).toMatch(/^tsk_/);
    expect(new Date(r.body.next_run_at).getUTCDay()).toBe(1);
    task = r.body;
    // the agent sees it
    expect((await agent.get("/api/agent/tasks")).body.map((t: any) => t.id)).toContain(task.id);
  });

  test("POST /api/agents/:id/tasks: 404 unknown agent, 400 naming the bad field, 403 cross-site", async () => {
    let r = await person.post("/api/agents/agt_0000000000000000/tasks", { name: "x", prompt: "p", schedule: "event" });
    expect(r.status).toBe(404);
    r = await person.post(`/api/agents/${created.id}/tasks`, { name: "x", prompt: "p", schedule: "0 25 * * *" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("schedule:");
    expect(r.body.detail).toContain("hour");
    r = await person.post(`/api/agents/${created.id}/tasks`, { name: "x", prompt: "p", schedule: "* * * * *", timezone: "Europe/Atlantis" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("timezone:");
    r = await person.post(`/api/agents/${created.id}/tasks`, { name: "x", schedule: "event" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("prompt:");
    r = await person.call("POST", `/api/agents/${created.id}/tasks`, { name: "x", prompt: "p", schedule: "event" }, { origin: "https://evil.example" });
    expect(r.status).toBe(403);
  });

  test("an event task made by a person carries its trigger_url", async () => {
    const r = await person.post(`/api/agents/${created.id}/tasks`, { name: "On push", prompt: "Look at the push.", schedule: "event" });
    expect(r.status).toBe(201);
    expect(r.body.trigger_url).toBe(`${server.ctx.config.publicUrl}/webhook/${r.body.trigger_id}`);
  });

  test("GET /api/tasks lists every agent's tasks; ?agent_id= filters", async () => {
    await person.post(`/api/agents/${second.id}/tasks`, { name: "Second's task", prompt: "p", schedule: "0 0 * * *" });
    const all = (await person.get("/api/tasks")).body;
    expect(all.map((t: any) => t.name)).toEqual(expect.arrayContaining(["Weekly digest", "On push", "Second's task"]));
    for (const t of all) {
      for (const k of ["id", "agent_id", "name", "prompt", "schedule", "trigger_type", "enabled", "next_run_at", "last_run_status"]) expect(t).toHaveProperty(k);
    }
    const mine = (await person.get(`/api/tasks?agent_id=${created.id}`)).body;
    expect(mine.every((t: any) => t.agent_id === created.id)).toBe(true);
    expect(mine.map((t: any) => t.name)).not.toContain("Second's task");
    expect((await person.get(`/api/tasks/${task.id}`)).body.name).toBe("Weekly digest");
    expect((await person.get("/api/tasks/tsk_nope")).status).toBe(404);
  });

  test("PATCH /api/tasks/:id changes name, prompt, schedule, time zone and enabled; bad values 400", async () => {
    let r = await person.patch(`/api/tasks/${task.id}`, { name: "Monday digest", prompt: "Write it short." });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: "Monday digest", prompt: "Write it short.", schedule: "30 8 * * 1" });
    r = await person.patch(`/api/tasks/${task.id}`, { schedule: "0 12 * * *", timezone: "Asia/Kolkata" });
    expect(r.body).toMatchObject({ schedule: "0 12 * * *", timezone: "Asia/Kolkata" });
    expect(r.body.next_run_at).toMatch(/T06:30:00Z$/); // noon at UTC+5:30
    r = await person.patch(`/api/tasks/${task.id}`, { enabled: false });
    expect(r.body).toMatchObject({ enabled: false, next_run_at: null });
    r = await person.patch(`/api/tasks/${task.id}`, { enabled: true });
    expect(r.body.next_run_at).toMatch(/T06:30:00Z$/);
    r = await person.patch(`/api/tasks/${task.id}`, { schedule: "nonsense" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("schedule:");
    r = await person.patch(`/api/tasks/${task.id}`, { timezone: "Nowhere/Land" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("timezone:");
    r = await person.patch(`/api/tasks/${task.id}`, { enabled: "yes" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("enabled:");
    expect((await person.get(`/api/tasks/${task.id}`)).body.schedule).toBe("0 12 * * *"); // unchanged by the failures
    expect((await person.patch("/api/tasks/tsk_nope", { name: "x" })).status).toBe(404);
  });

  test("PATCH can turn a task into an event task and back", async () => {
    let r = await person.patch(`/api/tasks/${task.id}`, { schedule: "event" });
    expect(r.body).toMatchObject({ trigger_type: "event", next_run_at: null });
    expect(r.body.trigger_id).toMatch(/^[0-9a-f]{64}$/);
    r = await person.patch(`/api/tasks/${task.id}`, { schedule: "0 12 * * *" });
    expect(r.body).toMatchObject({ trigger_type: "scheduled", trigger_id: null, trigger_url: null });
  });

  let runId: string;
  test("POST /api/tasks/:id/run: 201 {run_id}; the agent receives task_due and sees the run", async () => {
    const r = await person.post(`/api/tasks/${task.id}/run`);
    expect(r.status).toBe(201);
    expect(r.body.run_id).toMatch(/^run_/);
    runId = r.body.run_id;
    const ev = (await server.ctx.db.select().from(outbox).where(eq(outbox.type, "task_due")))
      .map((x) => JSON.parse(x.payload))
      .find((p) => p.run_id === runId);
    expect(ev).toMatchObject({ type: "task_due", task_id: task.id, task_name: "Monday digest", task_prompt: "Write it short.", schedule: "0 12 * * *" });
    const due = (await agent.get("/api/agent/tasks/due")).body;
    expect(due.find((d: any) => d.run_id === runId)).toMatchObject({ id: task.id, name: "Monday digest" });
    expect((await person.post("/api/tasks/tsk_nope/run")).status).toBe(404);
  });

  test("GET /api/tasks/:id/runs: newest first with status, summary, started_at, finished_at", async () => {
    await agent.post(`/api/agent/tasks/runs/${runId}/complete`, { status: "completed", summary: "done" });
    const again = (await person.post(`/api/tasks/${task.id}/run`)).body.run_id;
    const r = await person.get(`/api/tasks/${task.id}/runs`);
    expect(r.status).toBe(200);
    expect(r.body.map((x: any) => x.id)).toEqual([again, runId]);
    expect(r.body[0]).toMatchObject({ status: "due", summary: null, started_at: null, finished_at: null });
    expect(r.body[1]).toMatchObject({ id: runId, status: "completed", summary: "done", task_id: task.id, agent_id: created.id });
    expect(r.body[1].started_at).toMatch(/Z$/);
    expect(r.body[1].finished_at).toMatch(/Z$/);
    expect((await person.get(`/api/tasks/${task.id}/runs?limit=1`)).body).toHaveLength(1);
    expect((await person.get(`/api/tasks/${task.id}/runs?before=${again}`)).body.map((x: any) => x.id)).toEqual([runId]);
    expect((await person.get(`/api/tasks/runs/${runId}`)).body).toMatchObject({ id: runId, summary: "done" });
    expect((await person.get("/api/tasks/tsk_nope/runs")).status).toBe(404);
  });

  test("DELETE /api/tasks/:id: 204, then it is gone for people and the agent", async () => {
    const r = await person.delete(`/api/tasks/${task.id}`);
    expect(r.status).toBe(204);
    expect((await person.get(`/api/tasks/${task.id}`)).status).toBe(404);
    expect((await person.delete(`/api/tasks/${task.id}`)).status).toBe(404);
    expect((await agent.get("/api/agent/tasks")).body.map((t: any) => t.id)).not.toContain(task.id);
    expect((await agent.get("/api/agent/tasks/due")).body.some((d: any) => d.id === task.id)).toBe(false);
  });

  test("an agent's own task can be managed by people too", async () => {
    const a = new AgentClient(server.url, second.id, second.secret);
    const t = (await a.post("/api/agent/tasks", { name: "Agent made", prompt: "p", schedule: "event" })).body;
    expect((await person.patch(`/api/tasks/${t.id}`, { enabled: false })).body.enabled).toBe(false);
    expect((await a.get("/api/agent/tasks")).body.find((x: any) => x.id === t.id).enabled).toBe(false);
  });
});

describe("people: schedule preview for the task editor", async () => {
  const server = await startTestServer();
  const { person } = await withAgent(server);
  const preview = (q: Record<string, string>) => person.get(`/api/tasks/preview?${new URLSearchParams(q)}`);

  test("a cron expression: a description and the next five runs (UTC)", async () => {
    const before = Date.now();
    const r = await preview({ schedule: "0 9 * * 1-5", timezone: "Europe/Berlin" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ schedule: "0 9 * * 1-5", trigger_type: "scheduled", timezone: "Europe/Berlin", description: "every weekday at 09:00" });
    expect(r.body.next_runs).toHaveLength(5);
    for (const t of r.body.next_runs) {
      expect(t).toMatch(/T0[78]:00:00Z$/); // 09:00 in Berlin: 08:00Z in winter, 07:00Z in summer
      expect([1, 2, 3, 4, 5]).toContain(new Date(t).getUTCDay());
    }
    expect(Date.parse(r.body.next_runs[0])).toBeGreaterThan(before); // after the moment it was asked for
  });

  test("common shapes in words", async () => {
    const cases: [string, string][] = [
      ["*/15 * * * *", "every 15 minutes"],
      ["0 */6 * * *", "every 6 hours"],
      ["30 8 * * 1", "every Monday at 08:30"],
      ["* * * * * *", "every second"],
      ["0 9,17 * * *", "every day at 09:00 and 17:00"],
      ["0 0 1 * *", "on day 1 of every month at 00:00"],
    ];
    for (const [schedule, words] of cases) expect((await preview({ schedule })).body.description).toBe(words);
    const odd = await preview({ schedule: "0 9 1-7 * 1" });
    expect(odd.status).toBe(200);
    expect(odd.body.description).toContain("0 9 1-7 * 1");
  });

  test("once and event", async () => {
    const once = await preview({ schedule: "once", run_at: "2030-05-01T10:00:00Z" });
    expect(once.body).toMatchObject({ trigger_type: "once", description: "once, at 2030-05-01T10:00:00Z", next_runs: ["2030-05-01T10:00:00Z"] });
    const now = await preview({ schedule: "once" });
    expect(now.body.description).toBe("once, now");
    expect(now.body.next_runs).toHaveLength(1);
    const ev = await preview({ schedule: "event" });
    expect(ev.body).toMatchObject({ trigger_type: "event", next_runs: [] });
  });

  test("a bad schedule or zone: 400 naming the problem", async () => {
    let r = await preview({ schedule: "0 9 * * 1-8" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("schedule:");
    expect(r.body.detail).toContain("dayOfWeek");
    r = await preview({ schedule: "* * * * *", timezone: "Moon/Base" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("timezone:");
    r = await person.get("/api/tasks/preview");
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("schedule:");
    r = await preview({ schedule: "0 9 * * *", run_at: "2030-01-01T00:00:00Z" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toStartWith("run_at:");
  });

  test("the preview creates nothing", async () => {
    await eventually(async () => (await person.get("/api/tasks")).body.length === 0);
  });
});
