// The agent's progress on a run: it starts the run (due → running), then
// completes or fails it. Finishing ends the run's announcement, clears its
// context blocks and sets the task's last_run_status, in one transaction.
import { and, asc, eq } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { first, only } from "../db/rows.ts";
import { runContext, taskRuns, tasks } from "../db/tables.ts";
import { isoMs } from "../lib/time.ts";
import { conflict, tooLarge } from "../lib/errors.ts";
import type { Agent } from "../agents/service.ts";
import { insertMessage, resolveConversation } from "../conversations/service.ts";
import { recordActivity } from "../activity/service.ts";
import { notifyPeople } from "../push/notices.ts";
import type { Static } from "elysia";
import { TASK_LIMITS, type RunFinished, type RunId } from "./model.ts";
import { getAgentRun, getAgentTask, runChanged, taskChanged, type Run } from "./service.ts";
import { announcementSeen, insertRun } from "./run-create.ts";

/** A finished run takes no more reports nor context blocks. */
export const isFinished = (r: Run) => r.status === "completed" || r.status === "failed";

/**
 * The agent starts work on a task: its oldest due run becomes running, or, if
 * none is due, a new running run is made (trigger "agent").
 */
export async function startRun(ctx: Ctx, agent: Agent, taskId: string): Promise<Static<typeof RunId>> {
  const nowMs = ctx.now();
  const run = await ctx.writer.now(async (uow) => {
    const db = uow.db;
    const t = await getAgentTask(db, agent.id, taskId);
    const due = first(
      await db
        .select()
        .from(taskRuns)
        .where(and(eq(taskRuns.taskId, t.id), eq(taskRuns.status, "due")))
        .orderBy(asc(taskRuns.id))
        .limit(1),
    );
    if (!due) return insertRun(uow, t, "agent", nowMs);
    await announcementSeen(db, due);
    const run = only(await db.update(taskRuns).set({ status: "running", startedAt: isoMs(nowMs) }).where(eq(taskRuns.id, due.id)).returning());
    runChanged(uow, run);
    return run;
  });
  return { run_id: run.id };
}

/**
 * The agent reports a run's result. For an interactive agent the summary
 * becomes a task message in its default conversation; the run's context
 * blocks are deleted and the task's last_run_status follows.
 */
export async function completeRun(
  ctx: Ctx,
  agent: Agent,
  runId: string,
  status: "completed" | "failed",
  summary: string | null | undefined,
): Promise<Static<typeof RunFinished>> {
  if (summary && Buffer.byteLength(summary, "utf8") > TASK_LIMITS.summaryBytes)
    throw tooLarge(`summary: at most ${TASK_LIMITS.summaryBytes / 1024} KiB of markdown`);
  const nowMs = ctx.now();
  const now = isoMs(nowMs);
  const run = await ctx.writer.now(async (uow) => {
    const db = uow.db;
    const r = await getAgentRun(db, agent.id, runId);
    if (isFinished(r)) throw conflict(`task run already ${r.status}`);
    const run = only(
      await db
        .update(taskRuns)
        .set({ status, summary: summary ?? null, startedAt: r.startedAt ?? r.createdAt, finishedAt: now })
        .where(eq(taskRuns.id, r.id))
        .returning(),
    );
    await announcementSeen(db, r);
    await db.delete(runContext).where(eq(runContext.runId, r.id));
    const task = only(await db.update(tasks).set({ lastRunStatus: status }).where(eq(tasks.id, r.taskId)).returning());
    if (agent.type === "interactive") {
      const conversation = await resolveConversation(uow, agent, null, now);
      await insertMessage(uow, { agentId: agent.id, conversationId: conversation.id, role: "task", text: summary ?? "", reportTitle: task.name, taskRunId: r.id }, now);
    }
    runChanged(uow, run);
    taskChanged(uow, ctx, task);
    await recordActivity(uow, agent.id, "system", `${task.name}: run ${status}`, null, r.id, { refId: r.id, outcome: status });
    if (status === "failed") await notifyPeople(uow, { kind: "run_failed", run, taskName: task.name });
    return run;
  });
  ctx.metrics.inc("nod_task_runs_finished_total", "Task runs finished, by status", { status });
  return { status, run_id: run.id };
}
