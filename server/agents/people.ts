// People's routes for agents: /api/agents, /api/agents/:id, /api/agents/:id/secret.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { CreateAgentBody, UpdateAgentBody } from "./model.ts";
import * as agents from "./service.ts";

export function peopleAgentRoutes(ctx: Ctx) {
  return new Elysia()
    .use(personGuard(ctx))
    .get("/api/agents", () => agents.listAgentsWithCounts(ctx))
    .post(
      "/api/agents",
      ({ body, user, set }) => {
        const { agent, secret } = agents.createAgent(ctx, body, user.id);
        set.status = 201;
        return { ...agents.publicAgent(ctx, agent, true), secret };
      },
      { body: CreateAgentBody },
    )
    .get("/api/agents/:id", ({ params }) => agents.publicAgent(ctx, agents.getAgent(ctx.db, params.id), true))
    .patch("/api/agents/:id", ({ params, body }) => agents.publicAgent(ctx, agents.updateAgent(ctx, params.id, body), true), {
      body: UpdateAgentBody,
    })
    .delete("/api/agents/:id", ({ params, set }) => {
      agents.deleteAgent(ctx, params.id);
      set.status = 204;
    })
    .post("/api/agents/:id/secret", ({ params }) => ({ secret: agents.rotateSecret(ctx, params.id) }));
}
