// The agent's routes about its requests: POST /api/agent/decisions/resolve, and
// nod's additions GET /api/agent/decisions/:decision_id (long-polled with
// ?wait=SECONDS, see long-poll.ts) and POST /api/agent/decisions/:decision_id/cancel
// (cancel.ts). X-Nod-Agent-Id + X-Nod-Secret; another agent's request → 404.
import type { Ctx } from "../context.ts";
import { forAgents } from "../agents/guard.ts";
import { doc, errors } from "../lib/schemas.ts";
import { selfResolve } from "./service.ts";
import { getDecisionForAgent, MAX_WAIT_SECONDS } from "./long-poll.ts";
import { cancelDecision } from "./cancel.ts";
import { AgentDecisionView, Cancelled, LongPollQuery, SelfResolveBody, SelfResolved } from "./model.ts";

export function agentDecisionRoutes(ctx: Ctx) {
  return forAgents(ctx)
    .post("/api/agent/decisions/resolve", ({ agent, body }) => selfResolve(ctx, agent, body.decision_id, body.note ?? null), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: SelfResolveBody,
      response: { 200: SelfResolved, ...errors(400, 401, 404, 409, 413) },
      ...doc("Resolve your own request", "Status becomes responded; the agent gets no event back. Not for permission requests (400)."),
    })
    .post("/api/agent/decisions/:decision_id/cancel", ({ agent, params }) => cancelDecision(ctx, agent, params.decision_id), {
      response: { 200: Cancelled, ...errors(401, 404, 409) },
      ...doc("Withdraw your own pending request", "nod's addition (not in the Nod API). Any kind, permission included; the inbox shows it withdrawn; the agent gets no event. 409 when it is no longer pending."),
    })
    .get(
      "/api/agent/decisions/:decision_id",
      ({ agent, params, query, request, server }) => {
        const wait = Math.min(query.wait ?? 0, MAX_WAIT_SECONDS); // longer waits are cut to the cap
        if (wait > 0) server?.timeout(request, wait + 15); // Bun's idle timeout is 10 s by default
        return getDecisionForAgent(ctx, agent, params.decision_id, wait, request.signal);
      },
      {
        query: LongPollQuery,
        response: { 200: AgentDecisionView, ...errors(400, 401, 404) },
        ...doc(
          "A request's state; with ?wait=SECONDS, waits (up to 60 s) for its answer",
          "nod's addition (not in the Nod API). Answers the request as its agent sees it: decision_id, kind, status, note, always_allow, always_allow_pattern… With `wait`, a pending request is held until a person answers or the time is up; then the current state is returned either way.",
        ),
      },
    );
}
