// People's routes for the activity feed: /api/agents/:id/activity (one agent) and /api/activity (all).
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forPeople } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { pageLimit } from "../lib/paging.ts";
import { doc, errors } from "../lib/schemas.ts";
import { ActivityFilter, ActivityQuery, ActivityView } from "./model.ts";
import { listActivity } from "./service.ts";

export function peopleActivityRoutes(ctx: Ctx) {
  return forPeople(ctx)
    .get(
      "/api/agents/:id/activity",
      async ({ params, query }) =>
        listActivity(ctx.db, { agentId: (await getAgent(ctx.db, params.id)).id, type: query.type, before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(ActivityFilter), response: { 200: t.Array(ActivityView), ...errors(400, 401, 404) }, ...doc("An agent's activity, newest first (?type=)") },
    )
    .get(
      "/api/activity",
      ({ query }) => listActivity(ctx.db, { agentId: query.agent_id, type: query.type, before: query.before, limit: pageLimit(query.limit) }),
      { query: ActivityQuery, response: { 200: t.Array(ActivityView), ...errors(400, 401) }, ...doc("Every agent's activity, newest first (?agent_id=, ?type=)") },
    );
}
