// Rows of the outbox: every event that must reach an agent is written here,
// in the transaction of the change that caused it (UnitOfWork.toAgent), and
// stays until it is delivered. The dispatcher (delivery/) drains it.
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { hotWrite } from "./prepared.ts";
import { isoMs } from "../lib/time.ts";
import { outbox } from "./tables.ts";
import type { Db } from "./index.ts";

/** What nod delivers to agents (the Nod documents' outbound events; what agents send in is an "agent event", events/). */
export type DeliveryType = "user_message" | "decision_resolved" | "task_due" | "task_trigger";

// Prepared once per connection (per transaction on PostgreSQL; hotWrite:
// straight to bun:sqlite on SQLite): the scheduler enqueues a hundred thousand
// of these in a burst. (One row per statement:
// multi-row INSERTs measured no faster on SQLite, the bindings cost what the
// statements save.)
const insertStmt = (db: Db) =>
  hotWrite(db, "outbox.insert", (db) =>
    db
      .insert(outbox)
      .values({
        id: sql.placeholder("id"),
        agentId: sql.placeholder("agentId"),
        type: sql.placeholder("type"),
        payload: sql.placeholder("payload"),
        status: "pending",
        nextAttemptAt: sql.placeholder("at"),
        createdAt: sql.placeholder("at"),
      })
      .prepare(),
  );

/** Writes one outbox row inside the caller's transaction (UnitOfWork.toAgent is the way in). */
export async function insertOutboxRow(db: Db, row: { id: string; agentId: string; type: DeliveryType; payload: string; at: string }) {
  await insertStmt(db).execute(row);
}

export type DeliveryChannel = "websocket" | "webhook" | "poll";

/**
 * Marks an event delivered (e.g. via "poll" when the agent listed or started
 * the run of a task_due / task_trigger). Returns false when it already was
 * delivered or does not exist. Safe to call inside a transaction.
 */
export async function markDelivered(db: Pick<Db, "update">, eventId: string, via: DeliveryChannel): Promise<boolean> {
  const marked = await db
    .update(outbox)
    .set({ status: "delivered", deliveredVia: via, deliveredAt: isoMs(), nextAttemptAt: null })
    .where(and(eq(outbox.id, eventId), ne(outbox.status, "delivered")))
    .returning({ id: outbox.id });
  return marked.length > 0;
}

/**
 * Puts events pushed over a socket that then died back in the queue (at-least-
 * once: the agent may have received them; it drops duplicates by event_id).
 * Only rows still marked delivered via websocket change. Returns how many did.
 */
export async function requeueSocketEvents(db: Pick<Db, "update">, eventIds: string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const requeued = await db
    .update(outbox)
    .set({ status: "pending", deliveredVia: null, deliveredAt: null, nextAttemptAt: isoMs() })
    .where(and(inArray(outbox.id, eventIds), eq(outbox.status, "delivered"), eq(outbox.deliveredVia, "websocket")))
    .returning({ id: outbox.id });
  return requeued.length;
}
