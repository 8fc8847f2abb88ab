// Event tasks: the public POST /webhook/{trigger_id}, task_trigger and the
// pending-trigger list.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { outbox } from "../server/db/tables.ts";
import { TRIGGER_RATE } from "../server/tasks/trigger-rate.ts";
import { AgentClient, startTestServer, withAgent } from "./helpers.ts";

describe("webhook triggers", async () => {
  let fakeNow = Date.now();
  const server = await startTestServer({ now: () => fakeNow });
  const { person, created, agent } = await withAgent(server, { name: "Pusher" });
  const other = await person.createAgent({ name: "Other" });
  const otherAgent = new AgentClient(server.url, other.id, other.secret);
  const eventTask = async (name = "Process push", a: AgentClient = agent) => {
    const r = await a.post("/api/agent/tasks", { name, prompt: "Analyze the push event.", schedule: "event" });
    expect(r.status).toBe(200);
    return r.body as { id: string; trigger_id: string; trigger_url: string };
  };
  const hook = (triggerId: string, init: RequestInit = {}) => fetch(`${server.url}/webhook/${triggerId}`, { method: "POST", ...init });
  const triggerEvents = async () =>
    (await server.ctx.db.select().from(outbox).where(eq(outbox.type, "task_trigger"))).map((r) => ({ ...JSON.parse(r.payload), _id: r.id, _agent: r.agentId }));

  let task: Awaited<ReturnType<typeof eventTask>>;
  let runId: string;
  test("a JSON body: 202 {status, run_id}, no auth; task_trigger carries the payload; the trigger is pending", async () => {
    task = await eventTask();
    const push = { ref: "refs/heads/main", commits: [{ message: "Fix login bug" }] };
    const r = await hook(task.trigger_id, { body: JSON.stringify(push), headers: { "content-type": "application/json" } });
    expect(r.status).toBe(202);
    const body = (await r.json()) as any;
    expect(body.status).toBe("accepted");
    expect(body.run_id).toMatch(/^run_/);
    runId = body.run_id;

    const ev = (await triggerEvents()).find((e) => e.run_id === runId)!;
    expect(ev).toMatchObject({ type: "task_trigger", task_id: task.id, task_name: "Process push", task_prompt: "Analyze the push event.", payload: push });
    expect(ev._agent).toBe(created.id);

    const pending = (await agent.get("/api/agent/tasks/triggers/pending")).body;
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ id: ev.event_id, task_id: task.id, task_name: "Process push", task_prompt: "Analyze the push event.", payload: push, run_id: runId });
    expect(pending[0].id).toMatch(/^evt_/);
    expect(pending[0].received_at).toMatch(/Z$/);
    // an event run is a trigger, not a due task
    expect((await agent.get("/api/agent/tasks/due")).body).toEqual([]);
    // another agent sees nothing
    expect((await otherAgent.get("/api/agent/tasks/triggers/pending")).body).toEqual([]);
    // the person sees the run
    const runs = (await person.get(`/api/tasks/${task.id}/runs`)).body;
    expect(runs[0]).toMatchObject({ id: runId, status: "due", trigger: "event" });
  });

  test("a pending trigger stays listed until its run is started, then leaves", async () => {
    expect((await agent.get("/api/agent/tasks/triggers/pending")).body).toHaveLength(1);
    const s = await agent.post(`/api/agent/tasks/${task.id}/run/start`);
    expect(s.body).toEqual({ run_id: runId });
    expect((await agent.get("/api/agent/tasks/triggers/pending")).body).toEqual([]);
    // the agent has been told: the event is not replayed over a socket later
    const row = (await server.ctx.db.select().from(outbox).where(eq(outbox.type, "task_trigger"))).find((r) => JSON.parse(r.payload).run_id === runId)!;
    expect(row.status).toBe("delivered");
    await agent.post(`/api/agent/tasks/runs/${runId}/complete`, { status: "completed", summary: "looked at it" });
  });

  test("…or until it is completed straight away", async () => {
    const r = await hook(task.trigger_id, { body: "{}", headers: { "content-type": "application/json" } });
    const id = ((await r.json()) as any).run_id;
    expect((await agent.get("/api/agent/tasks/triggers/pending")).body.map((p: any) => p.run_id)).toEqual([id]);
    await agent.post(`/api/agent/tasks/runs/${id}/complete`, { status: "completed" });
    expect((await agent.get("/api/agent/tasks/triggers/pending")).body).toEqual([]);
  });

  test("a non-JSON body becomes {content_type, body}", async () => {
    const t = await eventTask("Plain text");
    let r = await hook(t.trigger_id, { body: "deploy finished", headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(202);
    let id = ((await r.json()) as any).run_id;
    let p = (await agent.get("/api/agent/tasks/triggers/pending")).body.find((x: any) => x.run_id === id);
    expect(p.payload).toEqual({ content_type: "text/plain", body: "deploy finished" });
    // broken JSON is kept as text too, never a 400
    r = await hook(t.trigger_id, { body: "{not json", headers: { "content-type": "application/json" } });
    expect(r.status).toBe(202);
    id = ((await r.json()) as any).run_id;
    p = (await agent.get("/api/agent/tasks/triggers/pending")).body.find((x: any) => x.run_id === id);
    expect(p.payload).toEqual({ content_type: "application/json", body: "{not json" });
    // a form post
    r = await hook(t.trigger_id, { body: new URLSearchParams({ a: "1" }) });
    id = ((await r.json()) as any).run_id;
    p = (await agent.get("/api/agent/tasks/triggers/pending")).body.find((x: any) => x.run_id === id);
    expect(p.payload).toEqual({ content_type: "application/x-www-form-urlencoded;charset=UTF-8", body: "a=1" });
    // no body at all
    r = await hook(t.trigger_id);
    expect(r.status).toBe(202);
  });

  test("unknown or malformed trigger: 404 {detail}", async () => {
    for (const id of ["0".repeat(64), "nope", task.trigger_id.toUpperCase()]) {
      const r = await hook(id, { body: "{}" });
      expect(r.status, id).toBe(404);
      expect(((await r.json()) as any).detail).toBeString();
    }
  });

  test("a disabled task: 409; enabled again it accepts", async () => {
    const t = await eventTask("Switchable");
    await person.patch(`/api/tasks/${t.id}`, { enabled: false });
    let r = await hook(t.trigger_id, { body: "{}" });
    expect(r.status).toBe(409);
    expect(((await r.json()) as any).detail).toContain("disabled");
    await person.patch(`/api/tasks/${t.id}`, { enabled: true });
    r = await hook(t.trigger_id, { body: "{}" });
    expect(r.status).toBe(202);
  });

  test("a task that stopped being an event task no longer answers to its old trigger", async () => {
    const t = await eventTask("Converted");
    await person.patch(`/api/tasks/${t.id}`, { schedule: "0 9 * * *" });
    expect((await hook(t.trigger_id, { body: "{}" })).status).toBe(404);
  });

  test("bodies up to 1 MiB are accepted; beyond: 413, with Content-Length or chunked", async () => {
    const t = await eventTask("Big");
    const MiB = 1024 * 1024;
    const fits = JSON.stringify({ blob: "x".repeat(MiB - 20) });
    expect(fits.length).toBeLessThanOrEqual(MiB);
    let r = await hook(t.trigger_id, { body: fits, headers: { "content-type": "application/json" } });
    expect(r.status).toBe(202);
    r = await hook(t.trigger_id, { body: "x".repeat(MiB + 1), headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(413);
    expect(((await r.json()) as any).detail).toContain("too large");
    const chunk = new Uint8Array(256 * 1024).fill(97);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 5) return c.close();
        sent++;
        c.enqueue(chunk);
      },
    });
    r = await hook(t.trigger_id, { body: stream, headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(413);
    const runs = (await person.get(`/api/tasks/${t.id}/runs`)).body;
    expect(runs).toHaveLength(1); // only the one that fit
  });

  test(`rate-limited per trigger: ${TRIGGER_RATE.limit} a minute, then 429 with Retry-After`, async () => {
    const t = await eventTask("Busy");
    const quiet = await eventTask("Quiet");
    for (let i = 0; i < TRIGGER_RATE.limit; i++) expect((await hook(t.trigger_id, { body: "{}" })).status).toBe(202);
    const r = await hook(t.trigger_id, { body: "{}" });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await hook(quiet.trigger_id, { body: "{}" })).status).toBe(202); // other triggers are not affected
    fakeNow += TRIGGER_RATE.windowMs + 1;
    expect((await hook(t.trigger_id, { body: "{}" })).status).toBe(202);
  });
});
