// People's routes for the activity feed: per agent, and across agents.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { listActivity } from "./service.ts";

export function activityRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api" })
    .use(personGuard(ctx))
    .get(
      "/agents/:id/activity",
      ({ params, query }) => listActivity(ctx.db, { agentId: getAgent(ctx.db, params.id).id, before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery) },
    )
    .get(
      "/activity",
      ({ query }) => listActivity(ctx.db, { agentId: query.agent_id, before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object({ agent_id: t.Optional(t.String({ maxLength: 100 })), ...PagingQuery }) },
    );
}
