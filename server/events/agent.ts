// POST /api/agent/events: an agent sends an event (message, decision, alert,
// processing_start, processing_stop, task_proposal). The body is checked per
// type by service.ts, the same way as a WebSocket frame.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { agentGuard } from "../agents/guard.ts";
import { handleAgentEvent } from "./service.ts";

export function agentEventRoutes(ctx: Ctx) {
  return new Elysia()
    .use(agentGuard(ctx))
    .post("/api/agent/events", ({ agent, body }) => handleAgentEvent(ctx, agent, body), { parse: "json" });
}
