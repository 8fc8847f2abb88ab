// Every /api/agent/ route: X-Nod-Agent-Id + X-Nod-Secret, else 401; a good pair
// records when the agent was last seen (at most once a minute).
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { unauthorized } from "../lib/errors.ts";
import { models, AGENTS } from "../lib/schemas.ts";
import { agentSeen, checkAgentCredentials } from "./service.ts";

export const agentGuard = (ctx: Ctx) =>
  new Elysia().derive({ as: "scoped" }, async ({ request }) => {
    const id = request.headers.get("x-nod-agent-id");
    const secret = request.headers.get("x-nod-secret");
    if (!id || !secret) throw unauthorized("missing X-Nod-Agent-Id or X-Nod-Secret header");
    const check = await checkAgentCredentials(ctx.db, id, secret);
    if (!check.ok) throw unauthorized("invalid agent id or secret");
    agentSeen(ctx, check.agent.id); // REST-only agents get a last_seen_at too
    return { agent: check.agent };
  });

/** A feature's agent routes start here: credentials required, and documented as such. */
export const forAgents = (ctx: Ctx) => new Elysia({ detail: AGENTS }).use(models).use(agentGuard(ctx));
