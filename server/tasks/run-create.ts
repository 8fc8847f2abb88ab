// Creating a run: when a task is due (the scheduler), run now by a person,
// called by its webhook (trigger-call.ts) or started by the agent with none
// due (run-progress.ts). A due run is announced to the agent through the
// outbox (task_due / task_trigger) in the run's own transaction, so a run and
// its announcement exist together or not at all.
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs } from "../lib/time.ts";
import { markDelivered } from "../db/outbox.ts";
import { prepared } from "../db/prepared.ts";
import type { Static } from "elysia";
import type { RunId } from "./model.ts";
import { getTask, runChanged, type Run, type RunTrigger, type Task } from "./service.ts";

// Prepared once per database: the scheduler inserts thousands of these in a burst.
const insertRunStmt = (db: Db) =>
  prepared(db, "tasks.insertRun", (db) =>
    db.$client.prepare<unknown, [string, string, string, string, string, string | null, string | null, string, string | null]>(
      `INSERT INTO task_runs (id, task_id, agent_id, status, "trigger", trigger_event_id, payload, summary, created_at, started_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL)`,
    ),
  );

/**
 * Creates a run in the caller's unit of work. A due run is announced to the
 * agent: task_due, or task_trigger for a webhook call (with its payload).
 */
export function insertRun(uow: UnitOfWork, t: Pick<Task, "id" | "agentId" | "name" | "prompt" | "schedule">, trigger: RunTrigger, nowMs: number, payload?: unknown): Run {
  const id = timeId("run_");
  const now = isoMs(nowMs);
  let eventId: string | null = null;
  if (trigger === "event")
    eventId = uow.toAgent(t.agentId, "task_trigger", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, payload }, now);
  else if (trigger !== "agent")
    eventId = uow.toAgent(t.agentId, "task_due", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, schedule: t.schedule }, now);
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
  insertRunStmt(uow.db).run(
    run.id,
    run.taskId,
    run.agentId,
    run.status,
    run.trigger,
    run.triggerEventId,
    run.payload === null || run.payload === undefined ? null : JSON.stringify(run.payload),
    run.createdAt,
    run.startedAt,
  );
  runChanged(uow, run);
  return run;
}

/** The agent has seen this run (polled, started or completed it): the event that announced it needs no delivery any more. */
export function announcementSeen(db: Db, run: Run) {
  if (run.triggerEventId) markDelivered(db, run.triggerEventId, "poll");
}

/** A person's "run now": a due run, and task_due to the agent. */
export function runNow(ctx: Ctx, id: string): Static<typeof RunId> {
  const t = getTask(ctx.db, id);
  const run = ctx.writer.now((uow) => insertRun(uow, t, "manual", ctx.now()));
  return { run_id: run.id };
}
