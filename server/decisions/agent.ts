// The agent's routes about its requests: POST /api/agent/decisions/resolve, and
// nod's addition GET /api/agent/decisions/:decision_id (long-polled with ?wait=SECONDS,
// see long-poll.ts). X-Nod-Agent-Id + X-Nod-Secret; another agent's request → 404.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { agentGuard } from "../agents/guard.ts";
import { selfResolve } from "./service.ts";
import { getDecisionForAgent, MAX_WAIT_SECONDS } from "./long-poll.ts";
import { LongPollQuery, SelfResolveBody } from "./model.ts";

export function agentDecisionRoutes(ctx: Ctx) {
  return new Elysia()
    .use(agentGuard(ctx))
    .post("/api/agent/decisions/resolve", ({ agent, body }) => selfResolve(ctx, agent, body.decision_id, body.note ?? null), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: SelfResolveBody,
    })
    .get(
      "/api/agent/decisions/:decision_id",
      ({ agent, params, query, request, server }) => {
        const wait = Math.min(query.wait ?? 0, MAX_WAIT_SECONDS); // longer waits are cut to the cap
        if (wait > 0) server?.timeout(request, wait + 15); // Bun's idle timeout is 10 s by default
        return getDecisionForAgent(ctx, agent, params.decision_id, wait, request.signal);
      },
      { query: LongPollQuery },
    );
}
