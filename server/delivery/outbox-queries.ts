// The outbox as delivery reads and updates it: every statement the dispatcher
// runs, prepared once per database. (Rows are written by UnitOfWork.toAgent,
// db/outbox.ts.)
import { and, asc, eq, lt, ne, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { agents, outbox } from "../db/tables.ts";
import { prepared } from "../db/prepared.ts";
import { isoMs } from "../lib/time.ts";

export type OutboxRow = typeof outbox.$inferSelect;
/** What announcing an outcome needs of a row. */
export type RowRef = Pick<OutboxRow, "id" | "type" | "payload">;

const stmts = (db: Db) =>
  prepared(db, "delivery.outbox", (db) => ({
    // What the agent has not received yet in one status, oldest first (outbox_agent_status, in id order).
    // Straight to bun:sqlite: every event to a connected agent runs it.
    undelivered: db.$client.prepare<RowRef, [string, OutboxRow["status"], string, number]>(
      "SELECT id, payload, type FROM outbox WHERE agent_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?",
    ),
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
    markSocket: db.$client.prepare<unknown, [string, string]>(
      "UPDATE outbox SET status = 'delivered', delivered_via = 'websocket', delivered_at = ?, next_attempt_at = NULL WHERE id = ? AND status != 'delivered'",
    ),
  }));

/**
 * What the agent has not received yet (pending, then given up on by the
 * webhook: undelivered), oldest first, at most `limit`, after the event id
 * `after` ("" for all): one indexed read per status, merged, so a long backlog
 * is never sorted whole.
 */
export function undeliveredRows(db: Db, agentId: string, limit: number, after = "") {
  const q = stmts(db).undelivered;
  const pending = q.all(agentId, "pending", after, limit);
  const given = q.all(agentId, "undelivered", after, limit);
  if (!given.length) return pending;
  return [...pending, ...given].sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, limit);
}
export const webhookHead = (db: Db, agentId: string) => stmts(db).webhookHead.get({ agentId });
export const webhookOf = (db: Db, agentId: string) => stmts(db).webhookOf.get({ id: agentId });

/** Marks rows delivered over a socket, inside the caller's transaction; returns those that were not delivered before. */
export function markSocketDelivered<R extends { id: string }>(db: Db, rows: R[]): R[] {
  const at = isoMs();
  const s = stmts(db);
  return rows.filter((r) => s.markSocket.run(at, r.id).changes > 0);
}

export function markWebhookDelivered(db: Db, id: string, attempts: number, at: number) {
  db.update(outbox)
    .set({ status: "delivered", deliveredVia: "webhook", deliveredAt: isoMs(at), attempts, nextAttemptAt: null })
    .where(and(eq(outbox.id, id), ne(outbox.status, "delivered")))
    .run();
}

export function markUndelivered(db: Db, id: string, attempts: number, lastError: string) {
  db.update(outbox)
    .set({ status: "undelivered", attempts, nextAttemptAt: null, lastError })
    .where(and(eq(outbox.id, id), eq(outbox.status, "pending")))
    .run();
}

/** Records a failed attempt and its retry time; the agent's later events wait behind it, so they arrive in order. */
export function scheduleRetry(db: Db, agentId: string, id: string, attempts: number, nextIso: string, lastError: string) {
  db.$client.transaction(() => {
    db.update(outbox).set({ attempts, nextAttemptAt: nextIso, lastError }).where(eq(outbox.id, id)).run();
    db.update(outbox)
      .set({ nextAttemptAt: nextIso })
      .where(and(eq(outbox.agentId, agentId), eq(outbox.status, "pending"), ne(outbox.type, "task_trigger"), lt(outbox.nextAttemptAt, nextIso)))
      .run();
  })();
}

/** Agents with a webhook whose next attempt is due now, and the earliest attempt due later. */
export function dueWebhookAgents(db: Db, now: string) {
  const due = db.$client
    .query<{ agent_id: string }, [string]>(
      `SELECT DISTINCT o.agent_id FROM outbox o JOIN agents a ON a.id = o.agent_id
       WHERE o.status = 'pending' AND o.type != 'task_trigger' AND o.next_attempt_at <= ?1 AND a.webhook_url IS NOT NULL`,
    )
    .all(now)
    .map((r) => r.agent_id);
  const next =
    db.$client
      .query<{ at: string | null }, [string]>(
        `SELECT min(o.next_attempt_at) AS at FROM outbox o JOIN agents a ON a.id = o.agent_id
         WHERE o.status = 'pending' AND o.type != 'task_trigger' AND o.next_attempt_at > ?1 AND a.webhook_url IS NOT NULL`,
      )
      .get(now)?.at ?? null;
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
