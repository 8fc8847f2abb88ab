// nod's own addition to the agent API: GET /api/agent/decisions/:decision_id
// answers the request's state for its agent, and with ?wait=SECONDS holds the
// answer until the request is resolved (or the wait ends). Scripts and hooks
// (`nod ask`, `nod claude-hook`) wait this way without a WebSocket or webhook.
//
// Waiters are woken in-process: respond() and selfResolve() call
// notifyDecision(id) after their commit. Decision ids are unique, so one
// registry serves every server in the process (tests start several).
import type { Ctx } from "../context.ts";
import type { Agent } from "../agents/service.ts";
import { getAgentDecision, type Decision } from "./service.ts";
import { toApiTime } from "../lib/time.ts";
import { waitFor } from "./waiters.ts";

export const MAX_WAIT_SECONDS = 60;

/** The decision as its agent sees it: the decision_resolved fields plus kind, options and times. */
export function agentDecisionView(d: Decision) {
  return {
    decision_id: d.id,
    kind: d.kind,
    status: d.status,
    note: d.note,
    title: d.title,
    description: d.description,
    options: d.options ?? null,
    conversation_id: d.conversationId,
    task_run_id: d.taskRunId,
    always_allow: d.alwaysAllow,
    always_allow_pattern: d.alwaysAllowPattern,
    ...(d.proposal ? { task_id: d.taskId } : {}),
    created_at: toApiTime(d.createdAt),
    resolved_at: toApiTime(d.resolvedAt),
  };
}

/** The agent's decision now, or once it is resolved when waitSeconds > 0 and it is pending. */
export async function getDecisionForAgent(ctx: Ctx, agent: Agent, id: string, waitSeconds = 0, signal?: AbortSignal) {
  let d = getAgentDecision(ctx.db, agent.id, id);
  const wait = Math.min(Math.max(0, waitSeconds), MAX_WAIT_SECONDS) * 1000;
  if (d.status === "pending" && wait > 0) {
    await waitFor(id, wait, signal);
    d = getAgentDecision(ctx.db, agent.id, id);
  }
  return agentDecisionView(d);
}
