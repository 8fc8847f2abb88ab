// Creating a run: when a task is due (the scheduler), run now by a person,
// called by its webhook (trigger-call.ts) or started by the agent with none
// due (run-progress.ts). A due run is announced to the agent through the
// outbox (task_due / task_trigger) in the run's own transaction, so a run and
// its announcement exist together or not at all.
import { sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs } from "../lib/time.ts";
import { markDelivered } from "../db/outbox.ts";
import { prepared } from "../db/prepared.ts";
import { taskRuns } from "../db/tables.ts";
import type { Static } from "elysia";
import type { RunId } from "./model.ts";
import { getTask, runChanged, type Run, type RunTrigger, type Task } from "./service.ts";

// Prepared once per database: the scheduler inserts thousands of these in a burst.
// Two statements, so that a run without a payload stores NULL (a placeholder goes
// through the JSON column's encoder, which would store the text 'null').
const insertRunStmt = (db: Db, withPayload: boolean) =>
  prepared(db, withPayload ? "tasks.insertRunWithPayload" : "tasks.insertRun", (db) =>
    db
      .insert(taskRuns)
      .values({
        id: sql.placeholder("id"),
        taskId: sql.placeholder("taskId"),
        agentId: sql.placeholder("agentId"),
        status: sql.placeholder("status"),
        trigger: sql.placeholder("trigger"),
        triggerEventId: sql.placeholder("triggerEventId"),
        payload: withPayload ? sql.placeholder("payload") : null,
        summary: null,
        createdAt: sql.placeholder("createdAt"),
        startedAt: sql.placeholder("startedAt"),
        finishedAt: null,
      })
      .prepare(),
  );

/**
 * Creates a run in the caller's unit of work. A due run is announced to the
 * agent: task_due, or task_trigger for a webhook call (with its payload).
 */
export async function insertRun(
  uow: UnitOfWork,
  t: Pick<Task, "id" | "agentId" | "name" | "prompt" | "schedule">,
  trigger: RunTrigger,
  nowMs: number,
  payload?: unknown,
): Promise<Run> {
  const id = timeId("run_");
  const now = isoMs(nowMs);
  let eventId: string | null = null;
  if (trigger === "event")
    eventId = await uow.toAgent(t.agentId, "task_trigger", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, payload }, now);
  else if (trigger !== "agent")
    eventId = await uow.toAgent(t.agentId, "task_due", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, schedule: t.schedule }, now);
  const run: Run = {
    id,
    taskId: t.id,
    agentId: t.agentId,
    status: trigger === "agent" ? "running" : "due",
    trigger,
    triggerEventId: eventId,
    payload: trigger === "event" ? (payload ?? null) : null,
    summary: null,
    createdAt: now,
    startedAt: trigger === "agent" ? now : null,
    finishedAt: null,
  };
  const withPayload = run.payload !== null && run.payload !== undefined;
  await insertRunStmt(uow.db, withPayload).execute({
    id: run.id,
    taskId: run.taskId,
    agentId: run.agentId,
    status: run.status,
    trigger: run.trigger,
    triggerEventId: run.triggerEventId,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    ...(withPayload ? { payload: run.payload } : {}),
  });
  runChanged(uow, run);
  return run;
}

/** The agent has seen this run (polled, started or completed it): the event that announced it needs no delivery any more. */
export async function announcementSeen(db: Db, run: Run) {
  if (run.triggerEventId) await markDelivered(db, run.triggerEventId, "poll");
}

/** A person's "run now": a due run, and task_due to the agent. */
export async function runNow(ctx: Ctx, id: string): Promise<Static<typeof RunId>> {
  // The task is read in the unit that adds its run: one deleted meanwhile is a 404, not a run pointing at nothing.
  const run = await ctx.writer.now(async (uow) => insertRun(uow, await getTask(uow.db, id), "manual", ctx.now()));
  return { run_id: run.id };
}
