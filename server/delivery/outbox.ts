// The one door for events that must reach an agent. Callers write the event
// inside the same transaction as the change that caused it, then call
// ctx.delivery.wake(agentId) after the commit so the dispatcher pushes it.
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { prepared } from "../db/prepared.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs } from "../lib/time.ts";
import { outbox } from "../db/schema.ts";
import type { Db } from "../db/index.ts";

export type AgentEventType = "user_message" | "decision_resolved" | "task_due" | "task_trigger";

// Prepared once per database: the scheduler enqueues thousands of these a minute.
const insertStmt = (db: Db) =>
  prepared(db, "outbox.insert", (db) =>
    db
      .insert(outbox)
      .values({
        id: sql.placeholder("id"),
        agentId: sql.placeholder("agentId"),
        type: sql.placeholder("type"),
        payload: sql.placeholder("payload"),
        status: "pending",
        nextAttemptAt: sql.placeholder("now"),
        createdAt: sql.placeholder("now"),
      })
      .prepare(),
  );

/** Writes an outbox row (inside the caller's transaction); returns the event id (evt_…) carried as event_id and X-Nod-Event-Id. */
export function enqueueAgentEvent(db: Db, agentId: string, type: AgentEventType, body: Record<string, unknown>): string {
  const id = timeId("evt_");
  const payload = JSON.stringify({ type, event_id: id, ...body });
  insertStmt(db).run({ id, agentId, type, payload, now: isoMs() });
  return id;
}

export type DeliveryChannel = "websocket" | "webhook" | "poll";

/**
 * Marks an event delivered (e.g. via "poll" when the agent listed or started
 * the run of a task_due / task_trigger). Returns false when it already was
 * delivered or does not exist. Safe to call inside a transaction.
 */
export function markDelivered(db: Pick<Db, "update">, eventId: string, via: DeliveryChannel): boolean {
  const res = db
    .update(outbox)
    .set({ status: "delivered", deliveredVia: via, deliveredAt: isoMs(), nextAttemptAt: null })
    .where(and(eq(outbox.id, eventId), ne(outbox.status, "delivered")))
    .run() as unknown as { changes: number };
  return res.changes > 0;
}

/**
 * Puts events pushed over a socket that then died back in the queue (at-least-
 * once: the agent may have received them; it drops duplicates by event_id).
 * Only rows still marked delivered via websocket change. Returns how many did.
 */
export function requeueSocketEvents(db: Pick<Db, "update">, eventIds: string[]): number {
  if (eventIds.length === 0) return 0;
  const res = db
    .update(outbox)
    .set({ status: "pending", deliveredVia: null, deliveredAt: null, nextAttemptAt: isoMs() })
    .where(and(inArray(outbox.id, eventIds), eq(outbox.status, "delivered"), eq(outbox.deliveredVia, "websocket")))
    .run() as unknown as { changes: number };
  return res.changes;
}
