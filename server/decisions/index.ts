// People's routes for requests.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import * as decisions from "./service.ts";

const Status = t.Union([t.Literal("approved"), t.Literal("rejected"), t.Literal("responded"), t.Literal("dismissed")], {
  error: "status: must be one of approved, rejected, responded, dismissed",
});

export function decisionRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/decisions" })
    .use(personGuard(ctx))
    .get(
      "/",
      ({ query }) => decisions.listDecisions(ctx.db, { status: query.status, agentId: query.agent_id, before: query.before, limit: pageLimit(query.limit) }),
      {
        query: t.Object({
          status: t.Optional(t.Union([t.Literal("pending"), t.Literal("resolved")], { error: "status: 'pending' or 'resolved'" })),
          agent_id: t.Optional(t.String({ maxLength: 100 })),
          ...PagingQuery,
        }),
      },
    )
    .get("/:id", ({ params }) => decisions.publicDecision(decisions.getDecision(ctx.db, params.id)))
    .post(
      "/:id/respond",
      ({ params, body, user }) => {
        const d = decisions.getDecision(ctx.db, params.id);
        return decisions.publicDecision(decisions.respond(ctx, getAgent(ctx.db, d.agentId), d.id, body, user.username));
      },
      {
        body: t.Object({
          status: Status,
          note: t.Optional(t.Nullable(t.String({ maxLength: 20_000 }))),
          always_allow: t.Optional(t.Boolean()),
          always_allow_pattern: t.Optional(t.Nullable(t.String({ maxLength: 500 }))),
        }),
      },
    );
}
