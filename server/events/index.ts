// The agent API's event routes.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { agentGuard } from "../agents/guard.ts";
import { selfResolve } from "../decisions/service.ts";
import { handleAgentEvent } from "./service.ts";

export function agentEventRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/agent" })
    .use(agentGuard(ctx))
    .post("/events", ({ agent, body }) => handleAgentEvent(ctx, agent, body), { parse: "json" })
    .post("/decisions/resolve", ({ agent, body }) => selfResolve(ctx, agent, body.decision_id, body.note ?? null), {
      body: t.Object({ decision_id: t.String({ minLength: 1, maxLength: 100 }), note: t.Optional(t.Nullable(t.String({ maxLength: 20_000 }))) }),
    });
}
