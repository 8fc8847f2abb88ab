// People's view of the outbox: which events have not reached their agent yet
// (the inbox shows them as "undelivered"), and trying one again.
import { and, desc, eq, lt } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { first } from "../db/rows.ts";
import { outbox } from "../db/tables.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { conflict, notFound } from "../lib/errors.ts";
import type { Static } from "elysia";
import type { DeliveryView } from "./model.ts";

type Row = typeof outbox.$inferSelect;
export type DeliveryStatus = Row["status"];

const REFS = ["message_id", "conversation_id", "decision_id", "task_id", "run_id"] as const;

export function publicDelivery(r: Row): Static<typeof DeliveryView> {
  const refs: Partial<Record<(typeof REFS)[number], string>> = {};
  try {
    const p = JSON.parse(r.payload) as Record<string, unknown>;
    for (const k of REFS) if (typeof p[k] === "string") refs[k] = p[k];
  } catch {}
  return {
    event_id: r.id,
    agent_id: r.agentId,
    event_type: r.type,
    status: r.status,
    attempts: r.attempts,
    next_attempt_at: toApiTime(r.nextAttemptAt),
    last_error: r.lastError,
    delivered_via: r.deliveredVia,
    created_at: toApiTime(r.createdAt),
    delivered_at: toApiTime(r.deliveredAt),
    ...refs,
  };
}

/**
 * Newest first; without a status, the events not delivered yet (pending and
 * undelivered). One indexed query per status (outbox_status, or
 * outbox_agent_status for one agent), each reading at most `limit` rows in id
 * order, merged: the cost does not grow with the delivered history.
 */
export async function listDeliveries(db: Db, opts: { status?: DeliveryStatus; agentId?: string; before?: string; limit: number }) {
  const statuses: DeliveryStatus[] = opts.status ? [opts.status] : ["pending", "undelivered"];
  const rows: Row[] = [];
  for (const status of statuses)
    rows.push(
      ...(await db
        .select()
        .from(outbox)
        .where(and(eq(outbox.status, status), opts.agentId ? eq(outbox.agentId, opts.agentId) : undefined, opts.before ? lt(outbox.id, opts.before) : undefined))
        .orderBy(desc(outbox.id))
        .limit(opts.limit)),
    );
  if (statuses.length > 1) rows.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return rows.slice(0, opts.limit).map(publicDelivery);
}

/** An undelivered event goes back to pending with fresh attempts; the dispatcher is woken after the commit. */
export async function retryDelivery(ctx: Ctx, eventId: string) {
  const row = first(await ctx.db.select().from(outbox).where(eq(outbox.id, eventId)));
  if (!row) throw notFound("event");
  if (row.status !== "undelivered") throw conflict(`event is ${row.status}, not undelivered`);
  const updated = await ctx.writer.now(async (uow) => {
    const row2 = first(
      await uow.db
        .update(outbox)
        .set({ status: "pending", attempts: 0, nextAttemptAt: isoMs(), lastError: row.lastError })
        .where(and(eq(outbox.id, row.id), eq(outbox.status, "undelivered")))
        .returning(),
    );
    if (row2) uow.redeliver(row.agentId);
    return row2;
  });
  if (!updated) throw conflict("event changed meanwhile");
  return publicDelivery(updated);
}
