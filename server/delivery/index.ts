// People's view of the outbox: which events have not reached their agent yet
// (the inbox shows them as "undelivered"), and a way to try one again.
import { Elysia, t } from "elysia";
import { and, desc, eq, inArray, lt } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { outbox } from "../db/schema.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { conflict, notFound } from "../lib/errors.ts";

type Row = typeof outbox.$inferSelect;

export function publicDelivery(r: Row) {
  let refs: Record<string, unknown> = {};
  try {
    const p = JSON.parse(r.payload) as Record<string, unknown>;
    for (const k of ["message_id", "conversation_id", "decision_id", "task_id", "run_id"]) if (typeof p[k] === "string") refs[k] = p[k];
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

export function deliveryRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/deliveries" })
    .use(personGuard(ctx))
    .get(
      "/",
      ({ query }) => {
        const statuses = query.status ? [query.status] : (["pending", "undelivered"] as const);
        return ctx.db
          .select()
          .from(outbox)
          .where(
            and(
              inArray(outbox.status, [...statuses]),
              query.agent_id ? eq(outbox.agentId, query.agent_id) : undefined,
              query.before ? lt(outbox.id, query.before) : undefined,
            ),
          )
          .orderBy(desc(outbox.id))
          .limit(pageLimit(query.limit))
          .all()
          .map(publicDelivery);
      },
      {
        query: t.Object({
          status: t.Optional(t.Union([t.Literal("pending"), t.Literal("undelivered"), t.Literal("delivered")], { error: "status: pending, undelivered or delivered" })),
          agent_id: t.Optional(t.String({ maxLength: 100 })),
          ...PagingQuery,
        }),
      },
    )
    .post("/:event_id/retry", ({ params }) => {
      const row = ctx.db.select().from(outbox).where(eq(outbox.id, params.event_id)).get();
      if (!row) throw notFound("event");
      if (row.status !== "undelivered") throw conflict(`event is ${row.status}, not undelivered`);
      const updated = ctx.writer.now((uow) => {
        const row2 = uow.db
          .update(outbox)
          .set({ status: "pending", attempts: 0, nextAttemptAt: isoMs(), lastError: row.lastError })
          .where(and(eq(outbox.id, row.id), eq(outbox.status, "undelivered")))
          .returning()
          .get();
        if (row2) uow.redeliver(row.agentId);
        return row2;
      });
      if (!updated) throw conflict("event changed meanwhile");
      return publicDelivery(updated);
    });
}
