// People's routes for the outbox: /api/deliveries (events not delivered yet)
// and /api/deliveries/:event_id/retry.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { pageLimit } from "../lib/paging.ts";
import { DeliveryListQuery } from "./model.ts";
import { listDeliveries, retryDelivery } from "./service.ts";

export function peopleDeliveryRoutes(ctx: Ctx) {
  return new Elysia()
    .use(personGuard(ctx))
    .get(
      "/api/deliveries",
      ({ query }) => listDeliveries(ctx.db, { status: query.status, agentId: query.agent_id, before: query.before, limit: pageLimit(query.limit) }),
      { query: DeliveryListQuery },
    )
    .post("/api/deliveries/:event_id/retry", ({ params }) => retryDelivery(ctx, params.event_id));
}
