// The run timeout: a run not completed within config.runTimeoutMs of becoming
// due fails, so a task whose agent never answers does not stay "due" forever
// and people are told. The scheduler sweeps for them (scheduler.ts).
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { taskRuns, tasks } from "../db/tables.ts";
import { isoMs } from "../lib/time.ts";
import { recordActivity } from "../activity/service.ts";
import { notifyPeople } from "../push/notices.ts";
import { prepared } from "../db/prepared.ts";
import { runChanged, taskChanged } from "./service.ts";

/**
 * Runs failed per transaction. The sweep finds them through task_runs_open (open
 * runs by due time: nothing is read when none is stale) and yields to the event
 * loop between batches, so a backlog of thousands never holds up requests.
 */
export const STALE_BATCH = 50;

const staleStmts = (db: Db) =>
  prepared(db, "tasks.stale", (db) => ({
    // The partial index's own condition (status IN ('due', 'running')), so SQLite uses it.
    due: db.$client.prepare<{ id: string }, [string, number]>(
      "SELECT id FROM task_runs WHERE status IN ('due', 'running') AND created_at < ? ORDER BY created_at LIMIT ?",
    ),
    fail: db
      .update(taskRuns)
      .set({ status: "failed", summary: sql`${sql.placeholder("summary")}`, finishedAt: sql`${sql.placeholder("now")}` })
      .where(and(eq(taskRuns.id, sql.placeholder("id")), inArray(taskRuns.status, ["due", "running"])))
      .returning()
      .prepare(),
    clearContext: db.$client.prepare<unknown, [string]>("DELETE FROM run_context WHERE run_id = ?"),
    dropAnnouncement: db.$client.prepare<unknown, [string]>("DELETE FROM outbox WHERE id = ? AND status != 'delivered'"),
    taskFailed: db.update(tasks).set({ lastRunStatus: "failed" }).where(eq(tasks.id, sql.placeholder("id"))).returning().prepare(),
  }));

/** Fails runs not completed within config.runTimeoutMs of becoming due, at most `limit`. Returns how many were found. */
export function failStaleRuns(ctx: Ctx, nowMs: number, limit = STALE_BATCH): number {
  const cutoff = isoMs(nowMs - ctx.config.runTimeoutMs);
  const now = isoMs(nowMs);
  const hours = Math.round((ctx.config.runTimeoutMs / 3_600_000) * 10) / 10;
  const summary = `Timed out: not completed within ${hours >= 1 ? `${hours} h` : `${Math.round(ctx.config.runTimeoutMs / 1000)} s`}.`;
  const q = staleStmts(ctx.db);
  const ids = q.due.all(cutoff, limit).map((r) => r.id);
  if (!ids.length) return 0;
  const done = ctx.writer.now((uow) => {
    const w = staleStmts(uow.db); // the writer's connection: ctx.db only reads
    let n = 0;
    for (const id of ids) {
      const run = w.fail.get({ id, summary, now });
      if (!run) continue;
      w.clearContext.run(run.id);
      // An announcement the agent never received is moot now.
      if (run.triggerEventId) w.dropAnnouncement.run(run.triggerEventId);
      const task = w.taskFailed.get({ id: run.taskId })!;
      runChanged(uow, run);
      taskChanged(uow, ctx, task);
      recordActivity(uow, run.agentId, "system", `${task.name}: run timed out`, summary, run.id, { refId: run.id, outcome: "failed" });
      notifyPeople(uow, { kind: "run_failed", run, taskName: task.name });
      n++;
    }
    return n;
  });
  if (done) {
    ctx.metrics.inc("nod_task_runs_finished_total", "Task runs finished, by status", { status: "timed_out" }, done);
    ctx.log.info("task runs timed out", { count: done });
  }
  return ids.length;
}
