// The activity feed: what agents did and what people answered, newest first.
import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { activity } from "../db/tables.ts";
import { hotWrite } from "../db/prepared.ts";
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
  ref_id: a.refId,
  outcome: a.outcome,
  created_at: toApiTime(a.createdAt),
});

// Most agent events write one of these (hotWrite: straight to bun:sqlite on SQLite).
const insertStmt = (db: Db) =>
  hotWrite(db, "activity.insert", (db) =>
    db
      .insert(activity)
      .values({
        id: sql.placeholder("id"),
        agentId: sql.placeholder("agentId"),
        type: sql.placeholder("type"),
        title: sql.placeholder("title"),
        text: sql.placeholder("text"),
        taskRunId: sql.placeholder("taskRunId"),
        refId: sql.placeholder("refId"),
        outcome: sql.placeholder("outcome"),
        createdAt: sql.placeholder("createdAt"),
      })
      .prepare(),
  );

/** What an entry is about (the inbox links to it) and how that ended. */
export interface ActivityRef {
  refId?: string | null;
  outcome?: string | null;
}

/** Records an entry in the caller's unit of work; open inboxes get it after the commit. */
export async function recordActivity(
  uow: UnitOfWork,
  agentId: string,
  type: ActivityType,
  title: string,
  text: string | null = null,
  taskRunId: string | null = null,
  ref: ActivityRef = {},
): Promise<Activity> {
  const row: Activity = { id: timeId("act_"), agentId, type, title, text, taskRunId, refId: ref.refId ?? null, outcome: ref.outcome ?? null, createdAt: isoMs() };
  await insertStmt(uow.db).execute(row);
  uow.toInbox({ type: "activity", activity: publicActivity(row) });
  return row;
}

/** The start of a text on one line, for a feed entry (the whole text stays where it was sent). */
export function preview(text: string | null | undefined, max = 200): string | null {
  const line = (text ?? "").replace(/\s+/g, " ").trim();
  if (!line) return null;
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

export async function listActivity(db: Db, opts: { agentId?: string; type?: ActivityType; before?: string; limit: number }) {
  const where = and(
    opts.agentId ? eq(activity.agentId, opts.agentId) : undefined,
    opts.type ? eq(activity.type, opts.type) : undefined,
    opts.before ? lt(activity.id, opts.before) : undefined,
  );
  return (await db.select().from(activity).where(where).orderBy(desc(activity.id)).limit(opts.limit)).map(publicActivity);
}
