// The outbox as delivery reads and updates it: every statement the dispatcher
// runs, prepared once per database. (Rows are written by UnitOfWork.toAgent,
// db/outbox.ts.)
import { and, asc, eq, gt, isNotNull, lt, lte, ne, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { agents, outbox } from "../db/tables.ts";
import { first } from "../db/rows.ts";
import { prepared } from "../db/prepared.ts";
import { isoMs } from "../lib/time.ts";

export type OutboxRow = typeof outbox.$inferSelect;
/** What announcing an outcome needs of a row. */
export type RowRef = Pick<OutboxRow, "id" | "type" | "payload">;

const stmts = (db: Db) =>
  prepared(db, "delivery.outbox", (db) => ({
    // What the agent has not received yet in one status, oldest first (outbox_agent_status, in id order).
    // Every event to a connected agent runs it.
    undelivered: db
      .select({ id: outbox.id, payload: outbox.payload, type: outbox.type })
      .from(outbox)
      .where(and(eq(outbox.agentId, sql.placeholder("agentId")), eq(outbox.status, sql.placeholder("status")), gt(outbox.id, sql.placeholder("after"))))
      .orderBy(asc(outbox.id))
      .limit(sql.placeholder("limit"))
      .prepare(),
    // The oldest event still waiting for a webhook attempt (task_trigger never goes to a webhook).
    webhookHead: db
      .select()
      .from(outbox)
      .where(and(eq(outbox.agentId, sql.placeholder("agentId")), eq(outbox.status, "pending"), ne(outbox.type, "task_trigger")))
      .orderBy(asc(outbox.id))
      .limit(1)
      .prepare(),
    webhookOf: db
      .select({ url: agents.webhookUrl, secret: agents.webhookSecret })
      .from(agents)
      .where(eq(agents.id, sql.placeholder("id")))
      .prepare(),
    // The row comes back only when this changed it (it was not delivered before).
    markSocket: db
      .update(outbox)
      .set({ status: "delivered", deliveredVia: "websocket", deliveredAt: sql`${sql.placeholder("at")}`, nextAttemptAt: null })
      .where(and(eq(outbox.id, sql.placeholder("id")), ne(outbox.status, "delivered")))
      .returning({ id: outbox.id })
      .prepare(),
  }));

/**
 * What the agent has not received yet (pending, then given up on by the
 * webhook: undelivered), oldest first, at most `limit`, after the event id
 * `after` ("" for all): one indexed read per status, merged, so a long backlog
 * is never sorted whole.
 */
export async function undeliveredRows(db: Db, agentId: string, limit: number, after = ""): Promise<RowRef[]> {
  const q = stmts(db).undelivered;
  const pending = await q.execute({ agentId, status: "pending", after, limit });
  const given = await q.execute({ agentId, status: "undelivered", after, limit });
  if (!given.length) return pending;
  return [...pending, ...given].sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, limit);
}
export const webhookHead = async (db: Db, agentId: string) => first(await stmts(db).webhookHead.execute({ agentId }));
export const webhookOf = async (db: Db, agentId: string) => first(await stmts(db).webhookOf.execute({ id: agentId }));

/** Marks rows delivered over a socket, inside the caller's transaction; returns those that were not delivered before. */
export async function markSocketDelivered<R extends { id: string }>(db: Db, rows: R[]): Promise<R[]> {
  const at = isoMs();
  const s = stmts(db);
  const marked: R[] = [];
  for (const r of rows) if ((await s.markSocket.execute({ at, id: r.id })).length > 0) marked.push(r);
  return marked;
}

export async function markWebhookDelivered(db: Db, id: string, attempts: number, at: number) {
  await db
    .update(outbox)
    .set({ status: "delivered", deliveredVia: "webhook", deliveredAt: isoMs(at), attempts, nextAttemptAt: null })
    .where(and(eq(outbox.id, id), ne(outbox.status, "delivered")));
}

export async function markUndelivered(db: Db, id: string, attempts: number, lastError: string) {
  await db.update(outbox).set({ status: "undelivered", attempts, nextAttemptAt: null, lastError }).where(and(eq(outbox.id, id), eq(outbox.status, "pending")));
}

/**
 * Records a failed attempt and its retry time; the agent's later events wait behind it, so they arrive in order.
 * Inside the caller's unit of work (both updates commit together).
 */
export async function scheduleRetry(db: Db, agentId: string, id: string, attempts: number, nextIso: string, lastError: string) {
  await db.update(outbox).set({ attempts, nextAttemptAt: nextIso, lastError }).where(eq(outbox.id, id));
  await db
    .update(outbox)
    .set({ nextAttemptAt: nextIso })
    .where(and(eq(outbox.agentId, agentId), eq(outbox.status, "pending"), ne(outbox.type, "task_trigger"), lt(outbox.nextAttemptAt, nextIso)));
}

/** Agents with a webhook whose next attempt is due now, and the earliest attempt due later. */
export async function dueWebhookAgents(db: Db, now: string) {
  const waiting = and(eq(outbox.status, "pending"), ne(outbox.type, "task_trigger"), isNotNull(agents.webhookUrl));
  const due = (
    await db
      .selectDistinct({ agentId: outbox.agentId })
      .from(outbox)
      .innerJoin(agents, eq(agents.id, outbox.agentId))
      .where(and(waiting, lte(outbox.nextAttemptAt, now)))
  ).map((r) => r.agentId);
  const next =
    first(
      await db
        .select({ at: sql<string | null>`min(${outbox.nextAttemptAt})` })
        .from(outbox)
        .innerJoin(agents, eq(agents.id, outbox.agentId))
        .where(and(waiting, gt(outbox.nextAttemptAt, now))),
    )?.at ?? null;
  return { due, next };
}

/** The ids a delivery frame names (message, conversation, request, task, run), read from the payload. */
export function payloadRefs(payload: string): Record<string, string> {
  const ref: Record<string, string> = {};
  try {
    const p = JSON.parse(payload) as Record<string, unknown>;
    for (const k of ["message_id", "conversation_id", "decision_id", "task_id", "run_id"]) if (typeof p[k] === "string") ref[k] = p[k];
  } catch {}
  return ref;
}
