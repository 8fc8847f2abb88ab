// People's routes for agents.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { CreateAgentBody, UpdateAgentBody } from "./model.ts";
import * as agents from "./service.ts";

export function agentRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/agents" })
    .use(personGuard(ctx))
    .get("/", () => {
      const counts = agents.agentCounts(ctx.db);
      return agents.listAgents(ctx.db).map((a) => ({ ...agents.publicAgent(ctx, a), ...counts(a.id) }));
    })
    .post(
      "/",
      ({ body, user, set }) => {
        const { agent, secret } = agents.createAgent(ctx, body, user.id);
        set.status = 201;
        return { ...agents.publicAgent(ctx, agent, true), secret };
      },
      { body: CreateAgentBody },
    )
    .get("/:id", ({ params }) => agents.publicAgent(ctx, agents.getAgent(ctx.db, params.id), true))
    .patch("/:id", ({ params, body }) => agents.publicAgent(ctx, agents.updateAgent(ctx, params.id, body), true), {
      body: UpdateAgentBody,
    })
    .delete("/:id", ({ params, set }) => {
      agents.deleteAgent(ctx, params.id);
      set.status = 204;
    })
    .post("/:id/secret", ({ params }) => ({ secret: agents.rotateSecret(ctx, params.id) }));
}
