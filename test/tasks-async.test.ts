// Tasks on the async store seam (docs/scale.md): a service now waits for the
// writer's next batch, so another change can commit between a request's start
// and its unit of work. What a unit writes is checked against the task as it is
// in that unit: a task deleted, disabled or changed meanwhile is answered as
// such (404, 409), never a 500 nor a run that points at nothing.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { and, eq, isNull } from "drizzle-orm";
import { outbox, taskRuns, tasks as tasksTable } from "../server/db/tables.ts";
import { deleteTask, getTask, updateTask } from "../server/tasks/service.ts";
import { runNow } from "../server/tasks/run-create.ts";
import { receiveTrigger } from "../server/tasks/trigger-call.ts";
import { startTestServer, withAgent } from "./helpers.ts";

setDefaultTimeout(20_000); // a hang guard

describe("a task changed while a request waits for the writer", async () => {
  const server = await startTestServer();
  const { agent } = await withAgent(server, { name: "Racer" });
  const { ctx } = server;
  const newTask = async (schedule = "0 9 * * *") => {
    const r = await agent.post("/api/agent/tasks", { name: "Job", prompt: "Do it.", schedule });
    expect(r.status).toBe(200);
    return r.body as { id: string; trigger_id: string | null };
  };
  const runsOf = (taskId: string) => ctx.db.select().from(taskRuns).where(eq(taskRuns.taskId, taskId));
  const triggerEvents = () => ctx.db.select().from(outbox).where(eq(outbox.type, "task_trigger"));

  test("a change to a task deleted meanwhile is a 404", async () => {
    const t = await newTask();
    const [deleted, updated] = await Promise.allSettled([deleteTask(ctx, t.id), updateTask(ctx, t.id, { name: "Renamed" })]);
    expect(deleted.status).toBe("fulfilled");
    expect(updated).toMatchObject({ status: "rejected", reason: { status: 404, detail: "task not found" } });
    expect(await ctx.db.select().from(tasksTable).where(eq(tasksTable.id, t.id))).toEqual([]);
  });

  test("a second delete of the same task is a 404", async () => {
    const t = await newTask();
    const [first, second] = await Promise.allSettled([deleteTask(ctx, t.id), deleteTask(ctx, t.id)]);
    expect(first.status).toBe("fulfilled");
    expect(second).toMatchObject({ status: "rejected", reason: { status: 404 } });
  });

  test("run now on a task deleted meanwhile is a 404, and no run is made", async () => {
    const t = await newTask();
    const [, run] = await Promise.allSettled([deleteTask(ctx, t.id), runNow(ctx, t.id)]);
    expect(run).toMatchObject({ status: "rejected", reason: { status: 404, detail: "task not found" } });
    expect(await runsOf(t.id)).toEqual([]);
  });

  test("two changes that make a task an event task at once give it one trigger id, the one both answers show", async () => {
    const t = await newTask();
    const [a, b] = await Promise.all([updateTask(ctx, t.id, { schedule: "event" }), updateTask(ctx, t.id, { schedule: "event", name: "Hook" })]);
    const stored = (await getTask(ctx.db, t.id)).triggerId;
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect([a.triggerId, b.triggerId]).toEqual([stored, stored]);
  });

  test("a webhook call to a task disabled meanwhile is a 409: no run, no task_trigger", async () => {
    const t = await newTask("event");
    const before = (await triggerEvents()).length;
    const [call] = await Promise.allSettled([receiveTrigger(ctx, t.trigger_id!, () => ({ n: 1 })), updateTask(ctx, t.id, { enabled: false })]);
    expect(call).toMatchObject({ status: "rejected", reason: { status: 409, detail: "this task is disabled" } });
    expect(await runsOf(t.id)).toEqual([]);
    expect(await triggerEvents()).toHaveLength(before);
  });

  test("a webhook call to a task deleted meanwhile is a 404: no run, no task_trigger", async () => {
    const t = await newTask("event");
    const before = (await triggerEvents()).length;
    const [call] = await Promise.allSettled([receiveTrigger(ctx, t.trigger_id!, () => ({ n: 2 })), deleteTask(ctx, t.id)]);
    expect(call).toMatchObject({ status: "rejected", reason: { status: 404, detail: "trigger not found" } });
    expect(await triggerEvents()).toHaveLength(before);
  });

  test("a webhook call with nothing in between still makes its run", async () => {
    const t = await newTask("event");
    const r = await receiveTrigger(ctx, t.trigger_id!, () => null);
    expect((await runsOf(t.id)).map((x) => ({ id: x.id, payload: x.payload }))).toEqual([{ id: r.run_id, payload: null }]);
    // a run without a payload stores SQL NULL, not the JSON text 'null' (which reads back as null too)
    const sqlNull = await ctx.db.select({ id: taskRuns.id }).from(taskRuns).where(and(eq(taskRuns.id, r.run_id), isNull(taskRuns.payload)));
    expect(sqlNull).toEqual([{ id: r.run_id }]);
  });
});
