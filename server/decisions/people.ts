// People's routes for requests: /api/decisions, /api/decisions/:id, /api/decisions/:id/respond.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { pageLimit } from "../lib/paging.ts";
import { DecisionListQuery, RespondBody } from "./model.ts";
import * as decisions from "./service.ts";

export function peopleDecisionRoutes(ctx: Ctx) {
  return new Elysia()
    .use(personGuard(ctx))
    .get(
      "/api/decisions",
      ({ query }) => decisions.listDecisions(ctx.db, { status: query.status, agentId: query.agent_id, before: query.before, limit: pageLimit(query.limit) }),
      { query: DecisionListQuery },
    )
    .get("/api/decisions/:id", ({ params }) => decisions.publicDecision(decisions.getDecision(ctx.db, params.id)))
    .post(
      "/api/decisions/:id/respond",
      ({ params, body, user }) => {
        const d = decisions.getDecision(ctx.db, params.id);
        return decisions.publicDecision(decisions.respond(ctx, getAgent(ctx.db, d.agentId), d.id, body, user.username));
      },
      { body: RespondBody },
    );
}
