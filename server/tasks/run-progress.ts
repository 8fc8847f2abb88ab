// The agent's progress on a run: it starts the run (due → running), then
// completes or fails it. Finishing ends the run's announcement, clears its
// context blocks and sets the task's last_run_status, in one transaction.
import { and, asc, eq } from "drizzle-orm";
import type { Ctx } from "../context.ts";
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
export function startRun(ctx: Ctx, agent: Agent, taskId: string): Static<typeof RunId> {
  const nowMs = ctx.now();
  const run = ctx.writer.now((uow) => {
    const db = uow.db;
    const t = getAgentTask(db, agent.id, taskId);
    const due = db
      .select()
      .from(taskRuns)
      .where(and(eq(taskRuns.taskId, t.id), eq(taskRuns.status, "due")))
      .orderBy(asc(taskRuns.id))
      .limit(1)
      .get();
    if (!due) return insertRun(uow, t, "agent", nowMs);
    announcementSeen(db, due);
    const run = db.update(taskRuns).set({ status: "running", startedAt: isoMs(nowMs) }).where(eq(taskRuns.id, due.id)).returning().get()!;
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
export function completeRun(ctx: Ctx, agent: Agent, runId: string, status: "completed" | "failed", summary: string | null | undefined): Static<typeof RunFinished> {
  if (summary && Buffer.byteLength(summary, "utf8") > TASK_LIMITS.summaryBytes)
    throw tooLarge(`summary: at most ${TASK_LIMITS.summaryBytes / 1024} KiB of markdown`);
  const nowMs = ctx.now();
  const now = isoMs(nowMs);
  const run = ctx.writer.now((uow) => {
    const db = uow.db;
    const r = getAgentRun(db, agent.id, runId);
    if (isFinished(r)) throw conflict(`task run already ${r.status}`);
    const run = db
      .update(taskRuns)
      .set({ status, summary: summary ?? null, startedAt: r.startedAt ?? r.createdAt, finishedAt: now })
      .where(eq(taskRuns.id, r.id))
      .returning()
      .get()!;
    announcementSeen(db, r);
    db.delete(runContext).where(eq(runContext.runId, r.id)).run();
    const task = db.update(tasks).set({ lastRunStatus: status }).where(eq(tasks.id, r.taskId)).returning().get()!;
    if (agent.type === "interactive") {
      const conversation = resolveConversation(uow, agent, null, now);
      insertMessage(uow, { agentId: agent.id, conversationId: conversation.id, role: "task", text: summary ?? "", reportTitle: task.name, taskRunId: r.id }, now);
    }
    runChanged(uow, run);
    taskChanged(uow, ctx, task);
    recordActivity(uow, agent.id, "system", `${task.name}: run ${status}`, null, r.id, { refId: r.id, outcome: status });
    if (status === "failed") notifyPeople(uow, { kind: "run_failed", run, taskName: task.name });
    return run;
  });
  ctx.metrics.inc("nod_task_runs_finished_total", "Task runs finished, by status", { status });
  return { status, run_id: run.id };
}
