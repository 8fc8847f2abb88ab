// People's routes for agents: /api/agents, /api/agents/:id, /api/agents/:id/secret.
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forPeople } from "../auth/guard.ts";
import { doc, errors } from "../lib/schemas.ts";
import { PagingQuery } from "../lib/paging.ts";
import { AgentListItem, AgentView, CreateAgentBody, CreatedAgent, NewSecret, UpdateAgentBody } from "./model.ts";
import * as agents from "./service.ts";

export function peopleAgentRoutes(ctx: Ctx) {
  return forPeople(ctx)
    .get("/api/agents", ({ query }) => agents.listAgentsWithCounts(ctx, query), {
      query: t.Object(PagingQuery),
      response: { 200: t.Array(AgentListItem), ...errors(400, 401) },
      ...doc(
        "The agents, with their pending requests and unread messages, a page at a time, oldest first",
        "One page: the ?limit= (1–200, default 50) agents created last (before ?before=AGENT_ID), still oldest first. A full page may have more: ask again with ?before= its first agent.",
      ),
    })
    .post(
      "/api/agents",
      async ({ body, user, status }) => {
        const { agent, secret } = await agents.createAgent(ctx, body, user.id);
        return status(201, { ...agents.publicAgent(ctx, agent, true), secret });
      },
      { body: CreateAgentBody, response: { 201: CreatedAgent, ...errors(400, 401, 403, 413) }, ...doc("Create an agent", "The answer holds its secret, shown only now.") },
    )
    .get("/api/agents/:id", async ({ params }) => agents.publicAgent(ctx, await agents.getAgent(ctx.db, params.id), true), {
      response: { 200: AgentView, ...errors(401, 404) },
      ...doc("An agent, with its webhook signing secret"),
    })
    .patch("/api/agents/:id", async ({ params, body }) => agents.publicAgent(ctx, await agents.updateAgent(ctx, params.id, body), true), {
      body: UpdateAgentBody,
      response: { 200: AgentView, ...errors(400, 401, 403, 404, 413) },
      ...doc("Change an agent's name, avatar, type or webhook URL"),
    })
    .delete(
      "/api/agents/:id",
      async ({ params, set }) => {
        await agents.deleteAgent(ctx, params.id);
        set.status = 204;
      },
      { response: { 204: t.Void({ description: "Deleted; its sockets close (4004)" }), ...errors(401, 403, 404) }, ...doc("Delete an agent and everything it owns") },
    )
    .post("/api/agents/:id/secret", async ({ params }) => ({ secret: await agents.rotateSecret(ctx, params.id) }), {
      response: { 200: NewSecret, ...errors(401, 403, 404) },
      ...doc("Give an agent a new secret"),
    });
}
