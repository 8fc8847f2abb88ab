// The activity feed: what agents did and what people answered, newest first.
import { and, desc, eq, lt } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { activity } from "../db/schema.ts";
import { prepared } from "../db/prepared.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import type { Static } from "elysia";
import type { ActivityView } from "./model.ts";

export type Activity = typeof activity.$inferSelect;
export type ActivityType = Activity["type"];

export const publicActivity = (a: Activity): Static<typeof ActivityView> => ({
  id: a.id,
  agent_id: a.agentId,
  type: a.type,
  title: a.title,
  text: a.text,
  task_run_id: a.taskRunId,
  created_at: toApiTime(a.createdAt),
});

// Straight to bun:sqlite, prepared once: most agent events write one of these.
const insertStmt = (db: Db) =>
  prepared(db, "activity.insert", (db) =>
    db.$client.prepare<unknown, [string, string, ActivityType, string, string | null, string | null, string]>(
      "INSERT INTO activity (id, agent_id, type, title, text, task_run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
  );

/** Records an entry in the caller's unit of work; open inboxes get it after the commit. */
export function recordActivity(
  uow: UnitOfWork,
  agentId: string,
  type: ActivityType,
  title: string,
  text: string | null = null,
  taskRunId: string | null = null,
): Activity {
  const row: Activity = { id: timeId("act_"), agentId, type, title, text, taskRunId, createdAt: isoMs() };
  insertStmt(uow.db).run(row.id, row.agentId, row.type, row.title, row.text, row.taskRunId, row.createdAt);
  uow.toInbox({ type: "activity", activity: publicActivity(row) });
  return row;
}

export function listActivity(db: Db, opts: { agentId?: string; before?: string; limit: number }) {
  const where = and(
    opts.agentId ? eq(activity.agentId, opts.agentId) : undefined,
    opts.before ? lt(activity.id, opts.before) : undefined,
  );
  return db.select().from(activity).where(where).orderBy(desc(activity.id)).limit(opts.limit).all().map(publicActivity);
}
