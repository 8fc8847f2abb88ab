// What the agent polls: its runs that are due and not yet started, scheduled
// or run now (GET /api/agent/tasks/due) and webhook calls
// (GET /api/agent/tasks/triggers/pending). Polling them counts as receiving
// their announcement.
import { and, asc, eq, ne } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { taskRuns, tasks } from "../db/tables.ts";
import { toApiTime } from "../lib/time.ts";
import type { Agent } from "../agents/service.ts";
import type { Static } from "elysia";
import type { DueRun, PendingTrigger } from "./model.ts";
import { announcementSeen } from "./run-create.ts";

/** Due runs of one agent with their task, oldest first: polled (trigger "event") or not. */
async function openRuns(ctx: Ctx, agent: Agent, event: boolean) {
  const rows = await ctx.db
    .select({ run: taskRuns, task: tasks })
    .from(taskRuns)
    .innerJoin(tasks, eq(tasks.id, taskRuns.taskId))
    .where(and(eq(taskRuns.agentId, agent.id), eq(taskRuns.status, "due"), event ? eq(taskRuns.trigger, "event") : ne(taskRuns.trigger, "event")))
    .orderBy(asc(taskRuns.id));
  // The agent has now been told of these runs: their events need no replay over a
  // socket nor a webhook POST. The runs stay listed until started or completed.
  const unsent = rows.filter((r) => r.run.triggerEventId);
  if (unsent.length)
    await ctx.writer.now(async (uow) => {
      for (const r of unsent) await announcementSeen(uow.db, r.run);
    });
  return rows;
}

/** Each run that is due and not yet started (webhook runs are listed by pendingTriggers). */
export async function dueRuns(ctx: Ctx, agent: Agent): Promise<Static<typeof DueRun>[]> {
  return (await openRuns(ctx, agent, false)).map(({ run, task }) => ({
    id: task.id,
    name: task.name,
    prompt: task.prompt,
    schedule: task.schedule,
    trigger_type: task.triggerType,
    enabled: task.enabled,
    run_id: run.id,
    due_at: toApiTime(run.createdAt),
  }));
}

/** Webhook calls whose run has not been started or completed yet, oldest first. */
export async function pendingTriggers(ctx: Ctx, agent: Agent): Promise<Static<typeof PendingTrigger>[]> {
  return (await openRuns(ctx, agent, true)).map(({ run, task }) => ({
    id: run.triggerEventId,
    task_id: task.id,
    task_name: task.name,
    task_prompt: task.prompt,
    payload: run.payload ?? null,
    run_id: run.id,
    received_at: toApiTime(run.createdAt),
  }));
}
