// The shapes of the people's delivery routes.
import { t } from "elysia";
import { PagingQuery } from "../lib/paging.ts";

export const DeliveryListQuery = t.Object({
  status: t.Optional(t.Union([t.Literal("pending"), t.Literal("undelivered"), t.Literal("delivered")], { error: "status: pending, undelivered or delivered" })),
  agent_id: t.Optional(t.String({ maxLength: 100 })),
  ...PagingQuery,
});
