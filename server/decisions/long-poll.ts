// nod's own addition to the agent API: GET /api/agent/decisions/:decision_id
// answers the request's state for its agent, and with ?wait=SECONDS holds the
// answer until the request is settled (or the wait ends). Scripts and hooks
// (`nod ask`, `nod claude-hook`) wait this way without a WebSocket or webhook.
//
// A unit of work that settles a request declares it (uow.settled), and the
// commit's effects wake the waiters here. Decision ids are unique, so one
// registry serves every server in the process (tests start several).
import type { Ctx } from "../context.ts";
import type { Agent } from "../agents/service.ts";
import { getAgentDecision, type Decision } from "./service.ts";
import { toApiTime } from "../lib/time.ts";
import type { Static } from "elysia";
import type { AgentDecisionView } from "./model.ts";

export const MAX_WAIT_SECONDS = 60;

const waiters = new Map<string, Set<() => void>>();

/** Wakes everyone waiting on this request (its change is committed). */
export function settleLongPolls(id: string) {
  const set = waiters.get(id);
  if (!set) return;
  waiters.delete(id);
  for (const wake of set) wake();
}

/**
 * Waits for the request to be settled: `settled` resolves true when it is,
 * false when the time is up, the signal aborts or cancel() is called.
 */
function waitFor(id: string, ms: number, signal?: AbortSignal): { settled: Promise<boolean>; cancel: () => void } {
  let cancel = () => {};
  const settled = new Promise<boolean>((resolve) => {
    let set = waiters.get(id);
    if (!set) waiters.set(id, (set = new Set()));
    const done = (woken: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const s = waiters.get(id);
      if (s) {
        s.delete(wake);
        if (s.size === 0) waiters.delete(id);
      }
      resolve(woken);
    };
    const wake = () => done(true);
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    signal?.addEventListener("abort", onAbort);
    set.add(wake);
    cancel = () => done(false);
  });
  return { settled, cancel };
}

/** How many requests are waiting right now (for /metrics). */
export function longPollCount() {
  let n = 0;
  for (const [, s] of waiters) n += s.size;
  return n;
}

/** Ends every wait now (the server is stopping: long-polls answer at once and clients poll again). */
export function endAllLongPolls() {
  for (const id of [...waiters.keys()]) settleLongPolls(id);
}

/** The decision as its agent sees it: the decision_resolved fields plus kind, options and times. */
export function agentDecisionView(d: Decision): Static<typeof AgentDecisionView> {
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
    expires_at: toApiTime(d.expiresAt),
  };
}

/** The agent's decision now, or once it is settled when waitSeconds > 0 and it is pending. */
export async function getDecisionForAgent(ctx: Ctx, agent: Agent, id: string, waitSeconds = 0, signal?: AbortSignal): Promise<Static<typeof AgentDecisionView>> {
  const wait = Math.min(Math.max(0, waitSeconds), MAX_WAIT_SECONDS) * 1000;
  // Waiting starts before the read: an answer committed while the read is on its way still wakes it.
  const waiting = wait > 0 ? waitFor(id, wait, signal) : null;
  try {
    let d = await getAgentDecision(ctx.db, agent.id, id);
    if (d.status === "pending" && waiting) {
      await waiting.settled;
      d = await getAgentDecision(ctx.db, agent.id, id);
    }
    return agentDecisionView(d);
  } finally {
    waiting?.cancel();
  }
}
