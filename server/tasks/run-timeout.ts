// The run timeout: a run not completed within config.runTimeoutMs of becoming
// due fails, so a task whose agent never answers does not stay "due" forever
// and people are told. The scheduler sweeps for them (scheduler.ts).
import { and, asc, eq, inArray, lt, ne, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { first, only } from "../db/rows.ts";
import { outbox, runContext, taskRuns, tasks } from "../db/tables.ts";
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
    // The partial index's own condition, written out (status IN ('due', 'running'), not
    // bound parameters), so SQLite uses it.
    due: db
      .select({ id: taskRuns.id })
      .from(taskRuns)
      .where(and(sql`${taskRuns.status} IN ('due', 'running')`, lt(taskRuns.createdAt, sql.placeholder("cutoff"))))
      .orderBy(asc(taskRuns.createdAt))
      .limit(sql.placeholder("limit"))
      .prepare(),
    fail: db
      .update(taskRuns)
      .set({ status: "failed", summary: sql`${sql.placeholder("summary")}`, finishedAt: sql`${sql.placeholder("now")}` })
      .where(and(eq(taskRuns.id, sql.placeholder("id")), inArray(taskRuns.status, ["due", "running"])))
      .returning()
      .prepare(),
    clearContext: db.delete(runContext).where(eq(runContext.runId, sql.placeholder("id"))).prepare(),
    dropAnnouncement: db
      .delete(outbox)
      .where(and(eq(outbox.id, sql.placeholder("id")), ne(outbox.status, "delivered")))
      .prepare(),
    taskFailed: db.update(tasks).set({ lastRunStatus: "failed" }).where(eq(tasks.id, sql.placeholder("id"))).returning().prepare(),
  }));

/** Fails runs not completed within config.runTimeoutMs of becoming due, at most `limit`. Returns how many were found. */
export async function failStaleRuns(ctx: Ctx, nowMs: number, limit = STALE_BATCH): Promise<number> {
  const cutoff = isoMs(nowMs - ctx.config.runTimeoutMs);
  const now = isoMs(nowMs);
  const hours = Math.round((ctx.config.runTimeoutMs / 3_600_000) * 10) / 10;
  const summary = `Timed out: not completed within ${hours >= 1 ? `${hours} h` : `${Math.round(ctx.config.runTimeoutMs / 1000)} s`}.`;
  const q = staleStmts(ctx.db);
  const ids = (await q.due.execute({ cutoff, limit })).map((r) => r.id);
  if (!ids.length) return 0;
  const done = await ctx.writer.now(async (uow) => {
    const w = staleStmts(uow.db); // the writer's connection: ctx.db only reads
    let n = 0;
    for (const id of ids) {
      const run = first(await w.fail.execute({ id, summary, now }));
      if (!run) continue;
      await w.clearContext.execute({ id: run.id });
      // An announcement the agent never received is moot now.
      if (run.triggerEventId) await w.dropAnnouncement.execute({ id: run.triggerEventId });
      const task = only(await w.taskFailed.execute({ id: run.taskId }));
      runChanged(uow, run);
      taskChanged(uow, ctx, task);
      await recordActivity(uow, run.agentId, "system", `${task.name}: run timed out`, summary, run.id, { refId: run.id, outcome: "failed" });
      await notifyPeople(uow, { kind: "run_failed", run, taskName: task.name });
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
