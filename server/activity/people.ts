// People's routes for the activity feed: /api/agents/:id/activity (one agent) and /api/activity (all).
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { ActivityQuery } from "./model.ts";
import { listActivity } from "./service.ts";

export function peopleActivityRoutes(ctx: Ctx) {
  return new Elysia()
    .use(personGuard(ctx))
    .get(
      "/api/agents/:id/activity",
      ({ params, query }) => listActivity(ctx.db, { agentId: getAgent(ctx.db, params.id).id, before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery) },
    )
    .get(
      "/api/activity",
      ({ query }) => listActivity(ctx.db, { agentId: query.agent_id, before: query.before, limit: pageLimit(query.limit) }),
      { query: ActivityQuery },
    );
}
