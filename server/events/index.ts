// The agent API's event routes.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { agentGuard } from "../agents/guard.ts";
import { selfResolve } from "../decisions/service.ts";
import { handleAgentEvent } from "./service.ts";
import { getDecisionForAgent, MAX_WAIT_SECONDS } from "../decisions/long-poll.ts";
import { cancelDecision } from "../decisions/cancel.ts";

export function agentEventRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/agent" })
    .use(agentGuard(ctx))
    .post("/events", ({ agent, body }) => handleAgentEvent(ctx, agent, body), { parse: "json" })
    .post("/decisions/resolve", ({ agent, body }) => selfResolve(ctx, agent, body.decision_id, body.note ?? null), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: t.Object({ decision_id: t.String({ minLength: 1, maxLength: 100 }), note: t.Optional(t.Nullable(t.String({ maxLength: 20_000 }))) }),
    })
    // nod's addition: the agent withdraws its own pending request (decisions/cancel.ts).
    .post("/decisions/:decision_id/cancel", ({ agent, params }) => cancelDecision(ctx, agent, params.decision_id))
    // nod's addition: a request's state, long-polled with ?wait=SECONDS (see decisions/long-poll.ts).
    .get(
      "/decisions/:decision_id",
      ({ agent, params, query, request, server }) => {
        const wait = Math.min(query.wait ?? 0, MAX_WAIT_SECONDS); // longer waits are cut to the cap
        if (wait > 0) server?.timeout(request, wait + 15); // Bun's idle timeout is 10 s by default
        return getDecisionForAgent(ctx, agent, params.decision_id, wait, request.signal);
      },
      {
        query: t.Object({
          wait: t.Optional(t.Numeric({ minimum: 0, multipleOf: 1, error: "wait: a whole number of seconds" })),
        }),
      },
    );
}
