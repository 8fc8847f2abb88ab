// The shapes of the people's delivery routes, and of an event as they show it.
import { t } from "elysia";
import { PagingQuery } from "../lib/paging.ts";
import { Int, OrNull, Time } from "../lib/schemas.ts";

export const DeliveryListQuery = t.Object({
  status: t.Optional(t.Union([t.Literal("pending"), t.Literal("undelivered"), t.Literal("delivered")], { error: "status: pending, undelivered or delivered" })),
  agent_id: t.Optional(t.String({ maxLength: 100 })),
  ...PagingQuery,
});

/** An event on its way to an agent, as people see it; the ids it is about are copied from its payload. */
export const DeliveryView = t.Object({
  event_id: t.String(),
  agent_id: t.String(),
  event_type: t.Union([t.Literal("user_message"), t.Literal("decision_resolved"), t.Literal("task_due"), t.Literal("task_trigger")]),
  status: t.Union([t.Literal("pending"), t.Literal("delivered"), t.Literal("undelivered")], {
    description: "pending: not delivered yet; undelivered: webhook attempts ran out, it waits for the agent's socket",
  }),
  attempts: Int({ minimum: 0, description: "Webhook attempts made" }),
  next_attempt_at: OrNull(Time),
  last_error: OrNull(t.String()),
  delivered_via: OrNull(t.Union([t.Literal("websocket"), t.Literal("webhook"), t.Literal("poll")])),
  created_at: Time,
  delivered_at: OrNull(Time),
  message_id: t.Optional(t.String()),
  conversation_id: t.Optional(t.String()),
  decision_id: t.Optional(t.String()),
  task_id: t.Optional(t.String()),
  run_id: t.Optional(t.String()),
});
