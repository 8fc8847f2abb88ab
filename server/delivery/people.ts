// People's routes for the outbox: /api/deliveries (events not delivered yet)
// and /api/deliveries/:event_id/retry.
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forPeople } from "../auth/guard.ts";
import { pageLimit } from "../lib/paging.ts";
import { doc, errors } from "../lib/schemas.ts";
import { DeliveryListQuery, DeliveryView } from "./model.ts";
import { listDeliveries, retryDelivery } from "./service.ts";

export function peopleDeliveryRoutes(ctx: Ctx) {
  return forPeople(ctx)
    .get(
      "/api/deliveries",
      ({ query }) => listDeliveries(ctx.db, { status: query.status, agentId: query.agent_id, before: query.before, limit: pageLimit(query.limit) }),
      {
        query: DeliveryListQuery,
        response: { 200: t.Array(DeliveryView), ...errors(400, 401) },
        ...doc("Events on their way to agents, newest first", "Without ?status, those not delivered yet (pending and undelivered)."),
      },
    )
    .post("/api/deliveries/:event_id/retry", ({ params }) => retryDelivery(ctx, params.event_id), {
      response: { 200: DeliveryView, ...errors(401, 403, 404, 409) },
      ...doc("Try an undelivered event again", "It goes back to pending with fresh webhook attempts. 409 unless it is undelivered."),
    });
}
