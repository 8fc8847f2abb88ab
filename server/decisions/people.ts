// People's routes for requests: /api/decisions, /api/decisions/:id, /api/decisions/:id/respond.
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forPeople } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { pageLimit } from "../lib/paging.ts";
import { doc, errors } from "../lib/schemas.ts";
import { DecisionListQuery, DecisionView, RespondBody } from "./model.ts";
import * as decisions from "./service.ts";

export function peopleDecisionRoutes(ctx: Ctx) {
  return forPeople(ctx)
    .get(
      "/api/decisions",
      ({ query }) => decisions.listDecisions(ctx.db, { status: query.status, agentId: query.agent_id, before: query.before, limit: pageLimit(query.limit) }),
      { query: DecisionListQuery, response: { 200: t.Array(DecisionView), ...errors(400, 401) }, ...doc("Requests, newest first (?status=pending|resolved, ?agent_id=)") },
    )
    .get("/api/decisions/:id", ({ params }) => decisions.publicDecision(decisions.getDecision(ctx.db, params.id)), {
      response: { 200: DecisionView, ...errors(401, 404) },
      ...doc("A request"),
    })
    .post(
      "/api/decisions/:id/respond",
      async ({ params, body, user }) => {
        const d = decisions.getDecision(ctx.db, params.id);
        return decisions.publicDecision(await decisions.respond(ctx, getAgent(ctx.db, d.agentId), d.id, body, user.username));
      },
      {
        body: RespondBody,
        response: { 200: DecisionView, ...errors(400, 401, 403, 404, 409, 413) },
        ...doc(
          "Answer a request",
          "approved/rejected for approval and permission requests, responded for choices and questions, dismissed for any. Unless dismissed, the agent receives decision_resolved. 409 when already answered.",
        ),
      },
    );
}
