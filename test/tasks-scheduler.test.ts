// The scheduler, driven through an injected clock (no real waits of minutes),
// plus one real 6-field cron firing every second, and a restart after a due
// time passed while the server was down.
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { and, eq } from "drizzle-orm";
import { outbox, taskRuns, tasks } from "../server/db/tables.ts";
import { first } from "../server/db/rows.ts";
import { TaskScheduler } from "../server/tasks/scheduler.ts";
import { eventually, startTestServer, withAgent, type TestServer } from "./helpers.ts";

// This file waits for a real per-second cron: a busy machine needs more than bun's default 5 s per test (a hang guard, not a time check).
setDefaultTimeout(60_000);

const runsOf = (server: TestServer, taskId: string) =>
  server.ctx.db.select().from(taskRuns).where(eq(taskRuns.taskId, taskId)).orderBy(taskRuns.id);
const dueEvents = async (server: TestServer) =>
  (await server.ctx.db.select().from(outbox).where(eq(outbox.type, "task_due"))).map((r) => JSON.parse(r.payload));

describe("scheduler on an injected clock", async () => {
  // Monday 5 January 2026, in the past of any real clock, so sessions stay valid.
  let fakeNow = Date.parse("2026-01-05T08:59:30Z");
  const server = await startTestServer({ now: () => fakeNow });
  const { person, created, agent } = await withAgent(server, { name: "Cron Bot" });
  const at = async (iso: string) => {
    fakeNow = Date.parse(iso);
    await server.live.scheduler.tick();
  };
  const task = async (body: Record<string, unknown>) => {
    const r = await agent.post("/api/agent/tasks", { prompt: "Do it.", ...body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const getTask = async (id: string) => (await person.get(`/api/tasks/${id}`)).body;

  test("a cron task fires at its slot: one due run, task_due to the agent, next_run_at moves on", async () => {
    const t = await task({ name: "Standup", schedule: "0 9 * * *" });
    expect(t.next_run_at).toBe("2026-01-05T09:00:00Z");
    await at("2026-01-05T08:59:59.900Z");
    expect(await runsOf(server, t.id)).toHaveLength(0);
    await at("2026-01-05T09:00:00.000Z");
    const runs = await runsOf(server, t.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "due", trigger: "schedule", agentId: created.id });
    const ev = (await dueEvents(server)).find((e) => e.run_id === runs[0]!.id);
    expect(ev).toMatchObject({ type: "task_due", task_id: t.id, task_name: "Standup", task_prompt: "Do it.", schedule: "0 9 * * *" });
    expect((await getTask(t.id)).next_run_at).toBe("2026-01-06T09:00:00Z");
    // the agent sees it when polling
    const due = (await agent.get("/api/agent/tasks/due")).body;
    expect(due.map((d: any) => d.run_id)).toContain(runs[0]!.id);
    // ticking again at the same time fires nothing more
    await at("2026-01-05T09:00:00.500Z");
    expect(await runsOf(server, t.id)).toHaveLength(1);
  });

  test("cron runs in the task's time zone", async () => {
    const berlin = await task({ name: "Berlin weekdays", schedule: "0 9 * * 1-5", timezone: "Europe/Berlin" });
    // 09:00 in Berlin on Monday 5 January (UTC+1) was 08:00Z, already past: next is Tuesday
    expect(berlin.next_run_at).toBe("2026-01-06T08:00:00Z");
    const ny = await task({ name: "New York", schedule: "0 9 * * *", timezone: "America/New_York" });
    expect(ny.next_run_at).toBe("2026-01-05T14:00:00Z");
    await at("2026-01-05T14:00:00Z");
    expect(await runsOf(server, ny.id)).toHaveLength(1);
    expect((await getTask(ny.id)).next_run_at).toBe("2026-01-06T14:00:00Z");
  });

  test("after the clock jumps past several slots a task fires once, not once per missed slot", async () => {
    fakeNow = Date.parse("2026-01-05T15:10:00Z");
    const t = await task({ name: "Hourly", schedule: "0 * * * *" });
    expect(t.next_run_at).toBe("2026-01-05T16:00:00Z");
    await at("2026-01-05T20:30:00Z"); // 16, 17, 18, 19, 20 o'clock all passed
    expect(await runsOf(server, t.id)).toHaveLength(1);
    expect((await getTask(t.id)).next_run_at).toBe("2026-01-05T21:00:00Z");
  });

  test("racing ticks and two schedulers never fire a slot twice", async () => {
    fakeNow = Date.parse("2026-01-06T10:00:30Z");
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await task({ name: `Minutely ${i}`, schedule: "* * * * *" })).id);
    const second = new TaskScheduler(server.ctx, { batch: 3 }); // small batches: interleaves with the first
    second.start();
    try {
      fakeNow = Date.parse("2026-01-06T10:01:00Z");
      const first = server.live.scheduler;
      expect(first).not.toBe(second);
      await Promise.all([first.tick(), second.tick(), first.tick(), second.tick(), Promise.resolve(first.poke())]);
      for (const id of ids) expect(await runsOf(server, id)).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  test("disabling takes effect at once; re-enabling carries on from now without making up skipped slots", async () => {
    fakeNow = Date.parse("2026-01-07T07:30:00Z");
    const t = await task({ name: "Toggle", schedule: "0 8 * * *" });
    let r = await person.patch(`/api/tasks/${t.id}`, { enabled: false });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ enabled: false, next_run_at: null });
    await at("2026-01-07T08:00:00Z");
    expect(await runsOf(server, t.id)).toHaveLength(0);
    fakeNow = Date.parse("2026-01-07T09:00:00Z");
    r = await person.patch(`/api/tasks/${t.id}`, { enabled: true });
    expect(r.body).toMatchObject({ enabled: true, next_run_at: "2026-01-08T08:00:00Z" });
    await at("2026-01-07T09:00:01Z");
    expect(await runsOf(server, t.id)).toHaveLength(0);
    await at("2026-01-08T08:00:00Z");
    expect(await runsOf(server, t.id)).toHaveLength(1);
  });

  test("editing the schedule takes effect at once; a deleted task never fires", async () => {
    fakeNow = Date.parse("2026-01-09T12:00:00Z");
    const t = await task({ name: "Edited", schedule: "0 18 * * *" });
    const r = await person.patch(`/api/tasks/${t.id}`, { schedule: "30 12 * * *", timezone: "UTC" });
    expect(r.body.next_run_at).toBe("2026-01-09T12:30:00Z");
    await at("2026-01-09T12:30:00Z");
    expect(await runsOf(server, t.id)).toHaveLength(1);

    const gone = await task({ name: "Deleted", schedule: "0 13 * * *" });
    expect((await person.delete(`/api/tasks/${gone.id}`)).status).toBe(204);
    await at("2026-01-09T13:00:00Z");
    expect(await runsOf(server, gone.id)).toHaveLength(0);
    expect((await agent.get("/api/agent/tasks")).body.some((x: any) => x.id === gone.id)).toBe(false);
  });

  test("a once task with run_at fires at that time, once; run_at without offset is read in its time zone", async () => {
    fakeNow = Date.parse("2026-01-10T08:00:00Z");
    const t = await task({ name: "Later", schedule: "once", run_at: "2026-01-10T10:00:00", timezone: "Europe/Berlin" });
    expect(t).toMatchObject({ trigger_type: "once", run_at: "2026-01-10T09:00:00Z", next_run_at: "2026-01-10T09:00:00Z" });
    await at("2026-01-10T08:59:59Z");
    expect(await runsOf(server, t.id)).toHaveLength(0);
    await at("2026-01-10T09:00:00Z");
    expect(await runsOf(server, t.id)).toHaveLength(1);
    await at("2026-01-11T09:00:00Z");
    expect(await runsOf(server, t.id)).toHaveLength(1);
    expect((await getTask(t.id)).next_run_at).toBeNull();
  });

  test("a run never completed is failed after the run timeout (24 h); its context is cleared", async () => {
    fakeNow = Date.parse("2026-01-12T06:00:00Z");
    const t = await task({ name: "Forgotten", schedule: "0 7 * * *" });
    await at("2026-01-12T07:00:00Z");
    const [run] = await runsOf(server, t.id);
    expect(run!.status).toBe("due");
    expect((await agent.post(`/api/agent/tasks/runs/${run!.id}/context`, { text: "half done" })).status).toBe(200);
    await at("2026-01-13T06:59:00Z"); // 23:59 later: still open
    expect((await agent.get(`/api/agent/tasks/runs/${run!.id}`)).body.status).toBe("due");
    await at("2026-01-13T07:00:01Z");
    const after = (await agent.get(`/api/agent/tasks/runs/${run!.id}`)).body;
    expect(after.status).toBe("failed");
    expect(after.summary).toContain("Timed out");
    expect(after.finished_at).toBe("2026-01-13T07:00:01Z");
    expect((await agent.get(`/api/agent/tasks/runs/${run!.id}/context`)).body.blocks).toEqual([]);
    expect((await getTask(t.id)).last_run_status).toBe("failed");
    // the 07:00 run of the 13th is new and due
    expect((await runsOf(server, t.id)).map((r) => r.status)).toEqual(["failed", "due"]);
    expect((await agent.post(`/api/agent/tasks/runs/${run!.id}/complete`, { status: "completed" })).status).toBe(409);
  });

  test("the timer wakes by itself when a task is due (no tick from outside)", async () => {
    fakeNow = Date.now(); // a clock that stands still at a real time
    const t = await task({ name: "Soon", schedule: "once", run_at: new Date(fakeNow + 150).toISOString() });
    await Bun.sleep(20);
    expect(await runsOf(server, t.id)).toHaveLength(0);
    fakeNow += 150; // the timer armed for +150 ms sees it due when it fires
    await eventually(async () => (await runsOf(server, t.id)).length === 1, 2000, "the once run");
  });
});

describe("scheduler on real time", async () => {
  const server = await startTestServer();
  const { agent } = await withAgent(server);

  test("a 6-field cron fires every second", async () => {
    const t = (await agent.post("/api/agent/tasks", { name: "Every second", prompt: "tick", schedule: "* * * * * *" })).body;
    await eventually(async () => (await runsOf(server, t.id)).length >= 3, 15_000, "three runs");
    const runs = await runsOf(server, t.id);
    // One run per second slot, in order: no second fires twice (however late a busy machine makes them).
    const seconds = runs.map((r) => Math.floor(Date.parse(r.createdAt) / 1000));
    for (let i = 1; i < seconds.length; i++) expect(seconds[i]!).toBeGreaterThan(seconds[i - 1]!);
    expect(runs.every((r) => r.trigger === "schedule")).toBe(true);
    // the next slot is a whole second after the last run
    const next = Date.parse(first(await server.ctx.db.select().from(tasks).where(eq(tasks.id, t.id)))!.nextRunAt!);
    expect(next % 1000).toBe(0);
    expect(next).toBeGreaterThan(Date.parse(runs.at(-1)!.createdAt));
    // and task_due went out for each
    const evs = await server.ctx.db.select().from(outbox).where(and(eq(outbox.type, "task_due"), eq(outbox.agentId, agent.id)));
    const dueRuns = new Set(evs.map((e) => JSON.parse(e.payload).run_id));
    for (const r of runs) expect(dueRuns.has(r.id)).toBe(true);
    expect((await agent.call("DELETE", "/api/agent/tasks/" + t.id)).status).toBe(404); // agents cannot delete; people can
  });
});

describe("restart", async () => {
  test("a due time that passed while the server was down gives exactly one run", async () => {
    let fakeNow = Date.parse("2026-02-02T10:30:00Z");
    let server = await startTestServer({ now: () => fakeNow });
    const { person, agent } = await withAgent(server);
    const t = (await agent.post("/api/agent/tasks", { name: "Hourly report", prompt: "report", schedule: "0 * * * *" })).body;
    expect(t.next_run_at).toBe("2026-02-02T11:00:00Z");
    // restart() stops the server, then starts a new one on the same data directory and port
    fakeNow = Date.parse("2026-02-02T14:45:00Z"); // 11, 12, 13 and 14 o'clock pass while it is down
    server = await server.restart();
    await eventually(async () => (await runsOf(server, t.id)).length === 1, 2000, "the catch-up run");
    await server.live.scheduler.tick();
    await Bun.sleep(50);
    const runs = await runsOf(server, t.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "due", trigger: "schedule" });
    const after = (await person.get(`/api/tasks/${t.id}`)).body;
    expect(after.next_run_at).toBe("2026-02-02T15:00:00Z");
    expect((await agent.get("/api/agent/tasks/due")).body.map((d: any) => d.run_id)).toEqual([runs[0]!.id]);
  });
});
