// POST /api/agent/events: an agent sends an event (message, decision, alert,
// processing_start, processing_stop, task_proposal). The body is checked per
// type by service.ts, the same way as a WebSocket frame, so that a bad field
// is named in the 400; the union of the types documents the body.
import type { Ctx } from "../context.ts";
import { forAgents } from "../agents/guard.ts";
import { bodyDoc, errors } from "../lib/schemas.ts";
import { EventReply, REST_EVENTS } from "./model.ts";
import { handleAgentEvent, REST_EVENT_TYPES } from "./service.ts";

const EVENT_BODY = bodyDoc({ "application/json": { schema: { oneOf: REST_EVENTS, discriminator: { propertyName: "type" } } } });

export function agentEventRoutes(ctx: Ctx) {
  return forAgents(ctx).post("/api/agent/events", ({ agent, body }) => handleAgentEvent(ctx, agent, body, REST_EVENT_TYPES) as Promise<EventReply> /* REST events never cancel */, {
    parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
    response: { 200: EventReply, ...errors(400, 401, 403, 404, 413) },
    detail: {
      summary: "Send an event: message, decision, alert, processing_start, processing_stop or task_proposal",
      description: "403 when an approval-only agent sends a message; 404 for another agent's conversation_id or task_run_id.",
      requestBody: EVENT_BODY,
    },
  });
}
